"""HTTP to BMCs. Knows nothing of the database: every call returns the Exchange it made."""
from pcs.redfish.client import BmcAddress, Exchange, RedfishClient  # noqa: F401
