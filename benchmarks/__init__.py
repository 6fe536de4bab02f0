"""Side-by-side measurements against named peers. Run with `make bench`; never timed tests."""
