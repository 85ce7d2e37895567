"""Facts of Android itself (binder transaction codes, output formats) that the harness reads
and the virtual lab reproduces. Nothing here knows about the virtual lab."""
