#pragma once

#include <cstdio>
#include <cstdlib>

// Stops the fuzz run when a property of the code under test does not hold. libFuzzer treats
// the abort like a crash: it saves the input as crash-<sha1> and prints how to replay it.
// assert() is not used because NDEBUG builds would silently drop the checks.
#define FUZZ_CHECK(condition, what)                                                     \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #condition, what);                                                   \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)
