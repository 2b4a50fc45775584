package skald

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v4/pgxpool"
)

// A throwaway PostgreSQL for the tests that need one (named *PG*): initdb'd into a temporary
// directory on first use, listening only on a unix socket there, stopped and removed by
// TestMain. Set SKALD_TEST_DATABASE_URL to use a database of your own instead. Without
// PostgreSQL's binaries those tests are skipped, unless SKALD_GO_REQUIRE_PG=1 (as
// scripts/test-go.sh sets), which fails them.

const pgBin = "/usr/lib/postgresql/15/bin"

var testPG struct {
	once sync.Once
	dir  string // the cluster's directory, removed by TestMain; empty when not started here
	url  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopTestPG()
	os.Exit(code)
}

// pgCommand returns cmd run as the postgres user when this process is root (initdb refuses
// to run as root), bounded by timeout.
func pgCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(pgBin, name)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

func startTestPG() (dir, url string, err error) {
	if url := os.Getenv("SKALD_TEST_DATABASE_URL"); url != "" {
		return "", url, nil
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		return "", "", fmt.Errorf("no PostgreSQL 15 binaries in %s", pgBin)
	}
	dir, err = os.MkdirTemp("", "skald-go-pg-")
	if err != nil {
		return "", "", err
	}
	if os.Geteuid() == 0 {
		account, err := user.Lookup("postgres")
		if err != nil {
			return dir, "", fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(account.Uid)
		gid, _ := strconv.Atoi(account.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return dir, "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := filepath.Join(dir, "data")
	if out, err := pgCommand(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync",
		"-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	if out, err := pgCommand(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30",
		"-o", fmt.Sprintf("-k %s -c listen_addresses='' -c fsync=off -c max_connections=50", dir),
		"start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return dir, "", fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return dir, fmt.Sprintf("host=%s user=postgres dbname=postgres pool_max_conns=8", dir), nil
}

func stopTestPG() {
	if testPG.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = pgCommand(ctx, "pg_ctl", "-D", filepath.Join(testPG.dir, "data"), "-m", "immediate", "-t", "20",
		"stop").Run()
	os.RemoveAll(testPG.dir)
}

// testPool returns a pool on the test database, with the barrier schema applied, closed when
// the test ends; it skips (or fails, see above) the test when there is no PostgreSQL.
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	testPG.once.Do(func() {
		testPG.dir, testPG.url, testPG.err = startTestPG()
	})
	if testPG.err != nil {
		if os.Getenv("SKALD_GO_REQUIRE_PG") == "1" {
			t.Fatalf("no PostgreSQL for the test: %v", testPG.err)
		}
		t.Skipf("no PostgreSQL for the test (set SKALD_GO_REQUIRE_PG=1 to fail instead): %v", testPG.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.Connect(ctx, testPG.url)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := ApplyBarrierSchema(ctx, pool); err != nil {
		t.Fatalf("ApplyBarrierSchema: %v", err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS test_ledger (saga_id text NOT NULL,"+
		" step text NOT NULL, delta int NOT NULL)"); err != nil {
		t.Fatalf("creating test_ledger: %v", err)
	}
	return pool
}
