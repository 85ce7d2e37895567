# The harness is a pytest plugin (devicelab.testing.plugin, registered through the pytest11 entry point);
# this file stays thin on purpose.
