// Package skald is the Go participant SDK of Skald, a saga coordinator: it serves a
// participant's step handlers to the coordinator over gRPC (service skald.v1.Participant,
// proto/skald/v1/participant.proto), keeps the instance registered with the coordinator's
// ParticipantRegistry, and runs handlers behind the idempotency barrier in the participant's
// own PostgreSQL (Barrier). It has the same concepts, names and promises as the C++ SDK
// (participant-sdk/include/skald/), so docs/participant-sdk.md describes both.
//
//	pool, _ := pgxpool.Connect(ctx, "postgresql://app@/shop?host=/run/postgresql")
//	if err := skald.ApplyBarrierSchema(ctx, pool); err != nil { ... }
//	server := skald.NewServer()
//	server.OnAction("charge", skald.Barrier(pool, charge))
//	server.OnCompensation("refund", skald.Barrier(pool, refund))
//	server.RegisterWith(skald.RegistrationOptions{CoordinatorAddress: "127.0.0.1:7700", Service: "payment"})
//	if err := server.Start("127.0.0.1:0"); err != nil { ... }
//	...
//	server.Shutdown(10 * time.Second) // deregister, then drain the calls in flight
package skald
