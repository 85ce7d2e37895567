"""The virtual handset's adbd: the adb transport protocol over TCP, and its services."""
