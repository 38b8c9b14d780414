"""Power capping: power-cap tasks on the workers, the Redfish styles, read-back."""
