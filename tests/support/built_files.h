#pragma once

// Where the build put the programs that tests start, and where the source tree is. The paths
// are absolute and differ per build directory, so they live in one tiny generated file
// (cmake/SkaldBuiltFiles.cmake) instead of on any other file's command line: every other
// object is the same in a fresh clone in another folder, and ccache serves it from the
// cache (CCACHE_BASEDIR).

#include <string>

namespace skald::testing {

// The absolute path of the program the build's target `target` makes (an executable, or a
// Go program of cmake/GoPrograms.cmake). Aborts, naming it, for a target the build lacks.
std::string BuiltFile(const char* target);

// The absolute path of `relative_path` in the source tree.
std::string SourceFile(const char* relative_path);

}  // namespace skald::testing

// The names tests have always used. #ifndef: a target may still define one on its command
// line (it then misses ccache in another folder, but builds).
#ifndef SKALD_BINARY
#define SKALD_BINARY ::skald::testing::BuiltFile("skald")
#endif
#ifndef ORDER_SERVICE_BINARY
#define ORDER_SERVICE_BINARY ::skald::testing::BuiltFile("order-service")
#endif
#ifndef INVENTORY_SERVICE_BINARY
#define INVENTORY_SERVICE_BINARY ::skald::testing::BuiltFile("inventory-service")
#endif
#ifndef PAYMENT_SERVICE_BINARY
#define PAYMENT_SERVICE_BINARY ::skald::testing::BuiltFile("payment-service")
#endif
#ifndef TEST_PARTICIPANT_BINARY
#define TEST_PARTICIPANT_BINARY ::skald::testing::BuiltFile("test-participant")
#endif
#ifndef HOSTILE_PARTICIPANT_BINARY
#define HOSTILE_PARTICIPANT_BINARY ::skald::testing::BuiltFile("hostile-participant")
#endif
#ifndef SKALD_CONFORMANCE_BINARY
#define SKALD_CONFORMANCE_BINARY ::skald::testing::BuiltFile("skald_conformance")
#endif
#ifndef CPP_PARTICIPANT_BINARY
#define CPP_PARTICIPANT_BINARY ::skald::testing::BuiltFile("conformance-participant-cpp")
#endif
#ifndef NOOP_PARTICIPANT_CPP_BINARY
#define NOOP_PARTICIPANT_CPP_BINARY ::skald::testing::BuiltFile("noop-participant-cpp")
#endif
#ifndef GO_PARTICIPANT_BINARY
#define GO_PARTICIPANT_BINARY ::skald::testing::BuiltFile("conformance-participant-go")
#endif
#ifndef GO_NOOP_PARTICIPANT_BINARY
#define GO_NOOP_PARTICIPANT_BINARY ::skald::testing::BuiltFile("skald-noop-participant-go")
#endif
#ifndef GO_SHOP_SERVICE_BINARY
#define GO_SHOP_SERVICE_BINARY ::skald::testing::BuiltFile("go-shop-service")
#endif
#ifndef ORDER_SAGA_DEFINITION
#define ORDER_SAGA_DEFINITION ::skald::testing::SourceFile("examples/order-saga/order-saga.json")
#endif
#ifndef GO_SHOP_DEFINITION
#define GO_SHOP_DEFINITION ::skald::testing::SourceFile("examples/go-shop/shop-saga.json")
#endif
