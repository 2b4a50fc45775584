// The translation unit that builds the shell's precompiled header
// (cmake/SkaldPrecompiledHeaders.cmake); every coordinator, SDK, example and test-helper
// target reuses it. It defines nothing.
