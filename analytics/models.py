"""Models of this app live here; see callseal.tenancy.residency."""
