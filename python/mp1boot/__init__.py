"""mp1boot."""
