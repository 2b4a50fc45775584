// The translation unit that builds the tests' precompiled header (cmake/SkaldTest.cmake);
// every test executable reuses it. It defines nothing.
