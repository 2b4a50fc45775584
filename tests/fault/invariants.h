// What must hold once every saga of the example order system has ended, however many
// coordinators were killed, databases restarted or participants lost along the way: read
// from the coordinator's database and the participants' (shop) database, never from the API.
#ifndef SKALD_TESTS_FAULT_INVARIANTS_H_
#define SKALD_TESTS_FAULT_INVARIANTS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skald::testing::fault {

// A saga the test started and saw acknowledged, and the end states it may reach.
struct ExpectedSaga {
  std::string id;
  // e.g. {"COMPLETED"}; empty allows any terminal state.
  std::set<std::string> allowed_ends;
};

struct InvariantInputs {
  std::string coordinator_db;  // libpq URI of the coordinator's database.
  std::string shop_db;         // libpq URI of the database the example participants share.
  // Stock per sku when the inventory service started (it must not have restarted since:
  // it resets the levels at each start).
  std::map<std::string, long long> initial_stock;
  // Every saga the test had acknowledged; each must exist and end as allowed.
  std::vector<ExpectedSaga> expected;
};

// What the checker looked at, and what it found wrong.
struct InvariantReport {
  int sagas = 0;  // Rows in the coordinator's `sagas` table.
  int completed = 0;
  int compensated = 0;
  int failed = 0;
  int not_terminal = 0;
  int expected = 0;  // Sagas the test expected.
  int lost = 0;      // Expected sagas missing from the coordinator's database.
  int orders = 0;    // Rows checked in each participant table.
  int reservations = 0;
  int charges = 0;
  int duplicate_effects = 0;  // Effects beyond the first per saga and table.
  int orphan_effects = 0;     // Effects of a saga the coordinator does not know.
  int skus = 0;               // Stock levels reconciled with the reservations.
  int attempt_sequences = 0;  // (saga, step, phase) histories whose numbering was checked.
  int history_events = 0;     // Rows of saga_events read.
  std::vector<std::string> failed_saga_ids;   // FAILED sagas: an operator must act.
  std::map<std::string, std::string> states;  // Every saga's state, by id.
  // One line per broken invariant, naming the saga (or sku) at fault.
  std::vector<std::string> violations;

  bool ok() const { return violations.empty(); }
  // A multi-line summary: the counts, the FAILED sagas, then every violation (at most
  // `max_violations` of them, with the number left out).
  std::string ToString(size_t max_violations = 50) const;
};

// Reads both databases (one read-only transaction each) and checks:
//  - every saga is terminal, with exactly one terminal history event matching its state;
//  - every expected saga exists (else it is lost) and ended in an allowed state;
//  - COMPLETED: every step SUCCEEDED or SKIPPED; exactly one CONFIRMED order, one RESERVED
//    reservation of the input's sku and quantity, one CHARGED charge of the input's amount,
//    and the saga output names that order, reservation and charge;
//  - COMPENSATED: no step left SUCCEEDED that has a compensation, none in flight; the order
//    CANCELLED or absent, no RESERVED reservation, no CHARGED charge;
//  - at most one order, reservation and charge per saga, none for an unknown saga;
//  - per sku, stock = initial - the sum of RESERVED reservations;
//  - per saga, step and phase, attempt_started numbers run 1, 2, 3, ... in history order,
//    resends repeat the latest, outcomes name an attempt already started, at most one
//    attempt_succeeded, and the step row's attempt counter equals the last number.
// FAILED sagas are counted and listed, not treated as violations. Returns an error only if
// a database cannot be read.
absl::StatusOr<InvariantReport> CheckInvariants(const InvariantInputs& inputs);

}  // namespace skald::testing::fault

#endif  // SKALD_TESTS_FAULT_INVARIANTS_H_
