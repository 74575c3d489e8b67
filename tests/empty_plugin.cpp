// A shared library with no tasks: forkpool-master must refuse it.
int forkpool_test_empty_plugin_marker() { return 1; }
