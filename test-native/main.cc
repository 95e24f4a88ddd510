// doctest's main() for the native unit tests; each *_test.cc holds one concern's cases.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest.h>
