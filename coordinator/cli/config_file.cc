#include "coordinator/cli/config_file.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <vector>

namespace skald::cli {
namespace {

// CLI11 reads a config file for the top-level app only, so a flat `db = "..."` would be an
// unknown top-level option. This gives such keys the subcommand being run as their parent.
// It is called after the command line is parsed, when that subcommand is known.
class SubcommandConfig : public CLI::ConfigTOML {
 public:
  explicit SubcommandConfig(const CLI::App* app) : app_(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(input);
    const std::vector<CLI::App*> running = app_->get_subcommands();
    if (running.empty()) return items;
    for (CLI::ConfigItem& item : items) {
      if (item.parents.empty() && item.name != "++" && item.name != "--" &&
          app_->get_option_no_throw("--" + item.name) == nullptr) {
        item.parents = {running.front()->get_name()};
      }
    }
    return items;
  }

 private:
  const CLI::App* app_;
};

}  // namespace

void AddConfigFile(CLI::App& app) {
  app.config_formatter(std::make_shared<SubcommandConfig>(&app));
  // A misspelt key must not be silently ignored (CLI11's default): it is an error, like a
  // misspelt flag.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_config("--config", "",
                 "read the flags of `serve` (or `dev`) from this file, one `name = value` per "
                 "line (e.g. tls-cert = \"/etc/skald/server.pem\"); the command line wins. See "
                 "docs/tls.md");
}

}  // namespace skald::cli
