// `skald serve --config FILE`: the subcommand's flags from a TOML-style file (key = value,
// docs/tls.md has an example). Flags given on the command line win over the file.
#pragma once

namespace CLI {
class App;
}

namespace skald::cli {

// Adds --config FILE to `app` (the top-level app, where CLI11 reads config files). Keys
// outside a section belong to the subcommand being run ("db", "tls-cert", ...), except the
// top-level flags themselves ("log-level", "log-format"); a [serve] or [dev] section says
// so explicitly.
void AddConfigFile(CLI::App& app);

}  // namespace skald::cli
