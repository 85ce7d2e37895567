# The harness is a pytest plugin (devicelab.plugin, registered through the pytest11 entry point);
# this file stays thin on purpose.
