"""BMCs and components: discovery over Redfish, the local inventory, the credential store."""
