package skald

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// maxCoordinatorAddresses bounds an address list: it is typed by a person or read from a
// config, and every address costs a connection.
const maxCoordinatorAddresses = 64

// roundRobinServiceConfig spreads calls over every coordinator address that is up; gRPC's
// default, pick_first, would stay on one.
const roundRobinServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// coordinatorScheme names the resolver of an address list; one per dial (manual resolvers
// are passed to grpc.Dial, never registered globally).
const coordinatorScheme = "skald-coordinators"

// coordinatorTarget returns what grpc.Dial needs to reach the coordinators in addresses: one
// "host:port" (or a target with a scheme, e.g. "dns:///coordinators:7700", whose every DNS
// record is used) or a comma-separated list "a:7700,b:7700,c:7700". Calls go round-robin to
// the addresses that are up, so that losing one coordinator loses nothing. For a list the
// authority (what TLS checks the certificate against) is the first entry, as for one
// address; host names in a list are resolved when connecting. The C++ SDK and the CLI take
// the same lists (tls/address_list.h).
func coordinatorTarget(addresses string) (string, []grpc.DialOption, error) {
	entries := strings.Split(addresses, ",")
	if len(entries) > maxCoordinatorAddresses {
		return "", nil, fmt.Errorf("coordinator address list has %d entries; at most %d",
			len(entries), maxCoordinatorAddresses)
	}
	options := []grpc.DialOption{grpc.WithDefaultServiceConfig(roundRobinServiceConfig)}
	if len(entries) == 1 {
		address := strings.TrimSpace(entries[0])
		if address == "" {
			return "", nil, fmt.Errorf("coordinator address is empty")
		}
		return address, options, nil
	}
	var resolved []resolver.Address
	for i, entry := range entries {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return "", nil, fmt.Errorf("coordinator address list %q: entry %d is empty", addresses, i+1)
		}
		host, port, err := net.SplitHostPort(entry)
		if err != nil || host == "" || port == "" {
			return "", nil, fmt.Errorf("coordinator address %q: expected host:port", entry)
		}
		resolved = append(resolved, resolver.Address{Addr: entry})
	}
	list := manual.NewBuilderWithScheme(coordinatorScheme)
	list.InitialState(resolver.State{Addresses: resolved})
	options = append(options, grpc.WithResolvers(list))
	return coordinatorScheme + ":///" + strings.TrimSpace(entries[0]), options, nil
}
