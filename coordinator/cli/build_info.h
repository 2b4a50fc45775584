// What `skald --version` prints: the version and the git commit the binary was built from.
// Defined in a file the build generates (cmake/BuildInfo.cmake) and rewrites only when the
// commit changes, so that a new commit recompiles one small file and nothing else.
#pragma once

namespace skald::cli {

// e.g. "0.18.0".
const char* BuildVersion();
// The short commit hash, with "-dirty" when the work tree had changes; "unknown" outside git.
const char* BuildCommit();

}  // namespace skald::cli
