#include "tests/fault/invariants.h"

#include <cmath>
#include <exception>
#include <pqxx/pqxx>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace skald::testing::fault {
namespace {

using nlohmann::json;

struct SagaRow {
  std::string id;
  std::string state;
  std::string definition;
  int version = 0;
  json input;
  json output;
};

struct StepRow {
  std::string name;
  std::string state;
  int attempts = 0;
  int compensation_attempts = 0;
};

struct EventRow {
  std::string saga_id;
  std::string type;
  std::string step;
  std::string phase;
  int attempt = 0;
};

// One row of a participant's table: an order, a reservation or a charge.
struct Effect {
  std::string id;
  std::string status;
  std::string sku;
  long long quantity = 0;
  double amount = 0;
};

using EffectsBySaga = std::unordered_map<std::string, std::vector<Effect>>;

// Everything the checks read, from both databases.
struct Snapshot {
  std::vector<SagaRow> sagas;
  std::unordered_map<std::string, std::vector<StepRow>> steps;  // By saga id, in position order.
  std::vector<EventRow> events;                                 // In history order.
  // (definition name, version) -> names of the steps that have a compensation.
  std::map<std::pair<std::string, int>, std::set<std::string>> compensable;
  EffectsBySaga orders;
  EffectsBySaga reservations;
  EffectsBySaga charges;
  std::map<std::string, long long> stock;
};

bool IsTerminalState(const std::string& state) {
  return state == "COMPLETED" || state == "COMPENSATED" || state == "FAILED";
}

json ParseJson(const pqxx::field& field) {
  if (field.is_null()) return nullptr;
  return json::parse(field.c_str(), nullptr, /*allow_exceptions=*/false);
}

void ReadCoordinator(const std::string& uri, Snapshot& snapshot) {
  pqxx::connection connection(uri);
  pqxx::read_transaction tx(connection);
  for (const pqxx::row& row :
       tx.exec("SELECT id, state, definition_name, definition_version, input::text, output::text"
               " FROM sagas ORDER BY id")) {
    snapshot.sagas.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                              row[2].as<std::string>(), row[3].as<int>(), ParseJson(row[4]),
                              ParseJson(row[5])});
  }
  for (const pqxx::row& row : tx.exec("SELECT name, version, document::text FROM definitions")) {
    std::set<std::string>& names =
        snapshot.compensable[{row[0].as<std::string>(), row[1].as<int>()}];
    const json document = ParseJson(row[2]);
    if (!document.is_object() || !document.contains("steps")) continue;
    for (const json& step : document["steps"]) {
      if (step.contains("compensation")) names.insert(step.value("name", ""));
    }
  }
  for (const pqxx::row& row :
       tx.exec("SELECT saga_id, name, state, attempts, compensation_attempts FROM saga_steps"
               " ORDER BY saga_id, position")) {
    snapshot.steps[row[0].as<std::string>()].push_back(
        {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<int>(), row[4].as<int>()});
  }
  for (const pqxx::row& row :
       tx.exec("SELECT saga_id, type, coalesce(step, ''), coalesce(phase, ''), attempt"
               " FROM saga_events ORDER BY id")) {
    snapshot.events.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                               row[2].as<std::string>(), row[3].as<std::string>(),
                               row[4].as<int>()});
  }
}

void ReadShop(const std::string& uri, Snapshot& snapshot) {
  pqxx::connection connection(uri);
  pqxx::read_transaction tx(connection);
  for (const pqxx::row& row : tx.exec("SELECT saga_id, order_id, status FROM orders.orders")) {
    snapshot.orders[row[0].as<std::string>()].push_back(
        {row[1].as<std::string>(), row[2].as<std::string>(), "", 0, 0});
  }
  for (const pqxx::row& row : tx.exec("SELECT saga_id, reservation_id::text, status, sku, quantity"
                                      " FROM inventory.reservations")) {
    snapshot.reservations[row[0].as<std::string>()].push_back(
        {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(),
         row[4].as<long long>(), 0});
  }
  for (const pqxx::row& row :
       tx.exec("SELECT saga_id, charge_id::text, status, amount::float8 FROM payments.charges")) {
    snapshot.charges[row[0].as<std::string>()].push_back(
        {row[1].as<std::string>(), row[2].as<std::string>(), "", 0, row[3].as<double>()});
  }
  for (const pqxx::row& row : tx.exec("SELECT sku, quantity FROM inventory.stock")) {
    snapshot.stock[row[0].as<std::string>()] = row[1].as<long long>();
  }
}

// Collects the violations, each prefixed with what it is about.
class Checker {
 public:
  Checker(const Snapshot& snapshot, InvariantReport& report)
      : snapshot_(snapshot), report_(report) {}

  void Run(const InvariantInputs& inputs) {
    std::unordered_map<std::string, const SagaRow*> by_id;
    for (const SagaRow& saga : snapshot_.sagas) by_id[saga.id] = &saga;
    report_.sagas = static_cast<int>(snapshot_.sagas.size());
    report_.history_events = static_cast<int>(snapshot_.events.size());

    CheckExpected(inputs.expected, by_id);
    for (const SagaRow& saga : snapshot_.sagas) CheckSaga(saga);
    CheckEffectTable("order", snapshot_.orders, by_id, report_.orders);
    CheckEffectTable("reservation", snapshot_.reservations, by_id, report_.reservations);
    CheckEffectTable("charge", snapshot_.charges, by_id, report_.charges);
    CheckStock(inputs.initial_stock);
    CheckHistory();
  }

 private:
  void Violation(const std::string& about, const std::string& what) {
    report_.violations.push_back(about + ": " + what);
  }

  static std::string AboutSaga(const SagaRow& saga) {
    return "saga " + saga.id + " (" + saga.state + ")";
  }

  void CheckExpected(const std::vector<ExpectedSaga>& expected,
                     const std::unordered_map<std::string, const SagaRow*>& by_id) {
    report_.expected = static_cast<int>(expected.size());
    for (const ExpectedSaga& want : expected) {
      const auto found = by_id.find(want.id);
      if (found == by_id.end()) {
        ++report_.lost;
        Violation("saga " + want.id, "LOST: acknowledged by StartSaga but not in the database");
        continue;
      }
      const std::string& state = found->second->state;
      if (IsTerminalState(state) && !want.allowed_ends.empty() &&
          !want.allowed_ends.contains(state)) {
        std::string allowed;
        for (const std::string& s : want.allowed_ends) allowed += (allowed.empty() ? "" : "|") + s;
        Violation(AboutSaga(*found->second), "expected to end " + allowed);
      }
    }
  }

  static const std::vector<Effect>& EffectsOf(const EffectsBySaga& table, const std::string& id) {
    static const std::vector<Effect> kNone;
    const auto found = table.find(id);
    return found == table.end() ? kNone : found->second;
  }

  static int CountStatus(const std::vector<Effect>& effects, const std::string& status) {
    int n = 0;
    for (const Effect& e : effects) n += e.status == status ? 1 : 0;
    return n;
  }

  static std::string Describe(const std::vector<Effect>& effects) {
    if (effects.empty()) return "none";
    std::string text;
    for (const Effect& e : effects) text += (text.empty() ? "" : ", ") + e.id + " " + e.status;
    return text;
  }

  void CheckSaga(const SagaRow& saga) {
    const std::string about = AboutSaga(saga);
    report_.states[saga.id] = saga.state;
    if (saga.state == "COMPLETED") {
      ++report_.completed;
    } else if (saga.state == "COMPENSATED") {
      ++report_.compensated;
    } else if (saga.state == "FAILED") {
      ++report_.failed;
      report_.failed_saga_ids.push_back(saga.id);
    } else {
      ++report_.not_terminal;
      Violation(about, "not terminal");
    }
    CheckSteps(saga);
    const std::vector<Effect>& orders = EffectsOf(snapshot_.orders, saga.id);
    const std::vector<Effect>& reservations = EffectsOf(snapshot_.reservations, saga.id);
    const std::vector<Effect>& charges = EffectsOf(snapshot_.charges, saga.id);
    if (saga.state == "COMPLETED") {
      CheckCompletedEffects(saga, orders, reservations, charges);
    } else if (saga.state == "COMPENSATED") {
      if (orders.size() != static_cast<size_t>(CountStatus(orders, "CANCELLED"))) {
        Violation(about, "order not cancelled: " + Describe(orders));
      }
      if (CountStatus(reservations, "RESERVED") != 0) {
        Violation(about, "reservation still held: " + Describe(reservations));
      }
      if (CountStatus(charges, "CHARGED") != 0) {
        Violation(about, "charge not refunded: " + Describe(charges));
      }
    }
  }

  void CheckCompletedEffects(const SagaRow& saga, const std::vector<Effect>& orders,
                             const std::vector<Effect>& reservations,
                             const std::vector<Effect>& charges) {
    const std::string about = AboutSaga(saga);
    if (orders.size() != 1 || CountStatus(orders, "CONFIRMED") != 1) {
      Violation(about, "expected one CONFIRMED order, found " + Describe(orders));
    }
    if (reservations.size() != 1 || CountStatus(reservations, "RESERVED") != 1) {
      Violation(about, "expected one RESERVED reservation, found " + Describe(reservations));
    } else if (reservations[0].sku != saga.input.value("sku", "") ||
               reservations[0].quantity != saga.input.value("quantity", -1LL)) {
      Violation(about, "reservation " + reservations[0].id + " is " +
                           std::to_string(reservations[0].quantity) + " of " + reservations[0].sku +
                           ", input asked " + saga.input.dump());
    }
    if (charges.size() != 1 || CountStatus(charges, "CHARGED") != 1) {
      Violation(about, "expected one CHARGED charge, found " + Describe(charges));
    } else if (std::fabs(charges[0].amount - saga.input.value("amount", -1.0)) > 0.005) {
      Violation(about, "charge " + charges[0].id + " is " + std::to_string(charges[0].amount) +
                           ", input asked " + saga.input.dump());
    }
    // The output is what the client sees: it must name the effects that stayed.
    const json& output = saga.output;
    auto names = [&](const char* field, const std::vector<Effect>& effects) {
      const bool matches = output.is_object() && effects.size() == 1 &&
                           output.value(field, json()) == json(effects[0].id);
      if (!matches) {
        Violation(about, std::string("output.") + field + " " +
                             (output.is_object() ? output.value(field, json()).dump() : "missing") +
                             " does not name the " + Describe(effects));
      }
    };
    names("order_id", orders);
    names("reservation_id", reservations);
    names("charge_id", charges);
  }

  void CheckSteps(const SagaRow& saga) {
    const auto found = snapshot_.steps.find(saga.id);
    if (found == snapshot_.steps.end()) {
      Violation(AboutSaga(saga), "has no step rows");
      return;
    }
    const auto compensable = snapshot_.compensable.find({saga.definition, saga.version});
    for (const StepRow& step : found->second) {
      const std::string about = AboutSaga(saga) + " step " + step.name;
      if (IsTerminalState(saga.state) &&
          (step.state == "RUNNING" || step.state == "COMPENSATING")) {
        Violation(about, "still " + step.state + " in a terminal saga");
      }
      if (saga.state == "COMPLETED" && step.state != "SUCCEEDED" && step.state != "SKIPPED") {
        Violation(about, "is " + step.state + " in a COMPLETED saga");
      }
      if (saga.state == "COMPENSATED" && step.state == "SUCCEEDED" &&
          compensable != snapshot_.compensable.end() && compensable->second.contains(step.name)) {
        Violation(about, "SUCCEEDED but never compensated in a COMPENSATED saga");
      }
      if (saga.state == "COMPENSATED" && step.state == "COMPENSATION_FAILED") {
        Violation(about, "COMPENSATION_FAILED in a COMPENSATED saga");
      }
    }
  }

  void CheckEffectTable(const std::string& kind, const EffectsBySaga& table,
                        const std::unordered_map<std::string, const SagaRow*>& by_id,
                        int& counter) {
    for (const auto& [saga_id, effects] : table) {
      counter += static_cast<int>(effects.size());
      if (effects.size() > 1) {
        report_.duplicate_effects += static_cast<int>(effects.size()) - 1;
        Violation("saga " + saga_id, "DUPLICATE effect: " + std::to_string(effects.size()) + " " +
                                         kind + " rows: " + Describe(effects));
      }
      if (!by_id.contains(saga_id)) {
        report_.orphan_effects += static_cast<int>(effects.size());
        Violation("saga " + saga_id,
                  kind + " of a saga the coordinator does not know: " + Describe(effects));
      }
    }
  }

  void CheckStock(const std::map<std::string, long long>& initial_stock) {
    std::map<std::string, long long> reserved;
    for (const auto& [saga_id, effects] : snapshot_.reservations) {
      for (const Effect& e : effects) {
        if (e.status == "RESERVED") reserved[e.sku] += e.quantity;
      }
    }
    for (const auto& [sku, initial] : initial_stock) {
      ++report_.skus;
      const auto found = snapshot_.stock.find(sku);
      const long long actual = found == snapshot_.stock.end() ? -1 : found->second;
      const long long want = initial - reserved[sku];
      if (actual != want) {
        Violation("sku " + sku, "stock " + std::to_string(actual) + ", expected " +
                                    std::to_string(initial) + " - " +
                                    std::to_string(reserved[sku]) +
                                    " reserved = " + std::to_string(want));
      }
    }
  }

  // The numbering of attempts, per saga, step and phase, in history order.
  struct Sequence {
    int last_started = 0;
    std::set<int> finished;  // Attempts with a recorded outcome.
    int succeeded = 0;
  };

  void CheckHistory() {
    std::map<std::string, std::map<std::pair<std::string, std::string>, Sequence>> sequences;
    std::unordered_map<std::string, std::vector<std::string>> terminal_events;
    for (const EventRow& e : snapshot_.events) {
      if (e.type == "saga_completed" || e.type == "saga_compensated" || e.type == "saga_failed") {
        terminal_events[e.saga_id].push_back(e.type);
        continue;
      }
      if (e.step.empty() || e.phase.empty()) continue;
      Sequence& seq = sequences[e.saga_id][{e.step, e.phase}];
      const std::string about = "saga " + e.saga_id + " step " + e.step + " " + e.phase;
      const std::string at = e.type + " " + std::to_string(e.attempt) + " after attempt " +
                             std::to_string(seq.last_started) + " started";
      if (e.type == "attempt_started") {
        if (e.attempt != seq.last_started + 1) Violation(about, "non-monotonic attempt: " + at);
        if (seq.last_started > 0 && !seq.finished.contains(seq.last_started)) {
          Violation(about, "attempt started before the previous one had an outcome: " + at);
        }
        seq.last_started = e.attempt;
      } else if (e.type == "attempt_resent") {
        if (e.attempt < 1 || e.attempt != seq.last_started) Violation(about, "resent " + at);
      } else if (e.type == "attempt_succeeded" || e.type == "attempt_failed") {
        if (e.attempt < 1 || e.attempt != seq.last_started) {
          Violation(about, "outcome for an attempt not in flight: " + at);
        }
        if (!seq.finished.insert(e.attempt).second) {
          Violation(about, "second outcome recorded for one attempt: " + at);
        }
        if (e.type == "attempt_succeeded" && ++seq.succeeded > 1) {
          Violation(about, "succeeded more than once: " + at);
        }
      } else if (e.type == "retry_scheduled") {
        if (e.attempt != seq.last_started + 1) Violation(about, "retry of " + at);
      }
    }
    for (const SagaRow& saga : snapshot_.sagas) {
      const std::vector<std::string>& ends = terminal_events[saga.id];
      const std::string want = saga.state == "COMPLETED"     ? "saga_completed"
                               : saga.state == "COMPENSATED" ? "saga_compensated"
                               : saga.state == "FAILED"      ? "saga_failed"
                                                             : "";
      const bool matches = want.empty() ? ends.empty() : ends == std::vector<std::string>{want};
      if (!matches) {
        std::string seen;
        for (const std::string& t : ends) seen += (seen.empty() ? "" : ", ") + t;
        Violation(AboutSaga(saga), "terminal history events [" + seen + "]");
      }
      const auto steps = snapshot_.steps.find(saga.id);
      if (steps == snapshot_.steps.end()) continue;
      auto& by_step = sequences[saga.id];
      for (const StepRow& step : steps->second) {
        for (const auto& [phase, counter] : {std::pair<std::string, int>{"action", step.attempts},
                                             {"compensation", step.compensation_attempts}}) {
          ++report_.attempt_sequences;
          const int last = by_step[{step.name, phase}].last_started;
          if (last != counter) {
            Violation(AboutSaga(saga) + " step " + step.name + " " + phase,
                      "row counts " + std::to_string(counter) + " attempts, history started " +
                          std::to_string(last));
          }
        }
      }
    }
  }

  const Snapshot& snapshot_;
  InvariantReport& report_;
};

}  // namespace

std::string InvariantReport::ToString(size_t max_violations) const {
  std::ostringstream out;
  out << "invariants: " << sagas << " sagas (" << completed << " COMPLETED, " << compensated
      << " COMPENSATED, " << failed << " FAILED, " << not_terminal << " not terminal); " << expected
      << " expected, " << lost << " lost\n"
      << "  effects checked: " << orders << " orders, " << reservations << " reservations, "
      << charges << " charges; " << duplicate_effects << " duplicate, " << orphan_effects
      << " orphan; " << skus << " sku stock level(s) reconciled\n"
      << "  history: " << history_events << " events, " << attempt_sequences
      << " attempt sequences checked\n";
  if (!failed_saga_ids.empty()) {
    out << "  FAILED sagas (need an operator):";
    for (const std::string& id : failed_saga_ids) out << " " << id;
    out << "\n";
  }
  out << "  " << violations.size() << " violation(s)\n";
  for (size_t i = 0; i < violations.size() && i < max_violations; ++i) {
    out << "  VIOLATION " << violations[i] << "\n";
  }
  if (violations.size() > max_violations) {
    out << "  ... and " << violations.size() - max_violations << " more\n";
  }
  return out.str();
}

absl::StatusOr<InvariantReport> CheckInvariants(const InvariantInputs& inputs) {
  Snapshot snapshot;
  try {
    ReadCoordinator(inputs.coordinator_db, snapshot);
    ReadShop(inputs.shop_db, snapshot);
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("invariants: cannot read the databases: ") +
                                  e.what());
  }
  InvariantReport report;
  Checker(snapshot, report).Run(inputs);
  return report;
}

}  // namespace skald::testing::fault
