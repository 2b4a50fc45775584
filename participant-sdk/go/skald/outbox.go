package skald

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v4"
)

// The transactional outbox: start a saga exactly when the service's own PostgreSQL
// transaction commits. It is the C++ outbox (participant-sdk/include/skald/saga_outbox.h):
// the same table, the same SQL, the same rules, so Go and C++ services (and relays) may share
// one outbox.
//
//	tx, _ := pool.Begin(ctx)
//	tx.Exec(ctx, "INSERT INTO orders ...")
//	sagaID, err := skald.StartSagaInTransaction(ctx, tx, "order", input, "order-"+orderID)
//	tx.Commit(ctx) // the saga starts if and only if this commits
//
// StartSagaInTransaction writes the start request as a row of skald.saga_outbox in the
// caller's transaction and notifies the relays (pg_notify, delivered at commit). An
// OutboxRelay (StartOutboxRelay), in this process or any other on the database, claims
// committed rows (FOR UPDATE SKIP LOCKED, in small batches, each row locked until its outcome
// is recorded), calls StartSaga with the row's saga id (idempotent: a repeat returns the
// same saga) and records the outcome: 'sent'; 'refused' for good for INVALID_ARGUMENT,
// NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE and UNIMPLEMENTED (never sent
// again unless RequeueRefusedStart); any other code leaves the row pending, tried again after
// a backoff doubling up to MaxBackoff.

// OutboxChannel is the channel StartSagaInTransaction notifies and the relays listen on.
const OutboxChannel = "skald_saga_outbox"

const (
	outboxSchemaLockSQL = "SELECT pg_advisory_xact_lock(hashtextextended('skald.saga_outbox schema', 0))"
	outboxSchemaSQL     = "CREATE SCHEMA IF NOT EXISTS skald;" +
		"CREATE TABLE IF NOT EXISTS skald.saga_outbox (" +
		" id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY," +
		" saga_id text NOT NULL UNIQUE," +
		" definition text NOT NULL," +
		" version integer NOT NULL," +
		" input_json text NOT NULL," +
		" traceparent text NOT NULL," +
		" callback_url text NOT NULL," +
		" state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused'))," +
		" attempts integer NOT NULL DEFAULT 0," +
		" next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp()," +
		" error_code text NOT NULL DEFAULT ''," +
		" error_message text NOT NULL DEFAULT ''," +
		" created_at timestamptz NOT NULL DEFAULT clock_timestamp()," +
		" sent_at timestamptz," +
		" refused_at timestamptz);" +
		"CREATE INDEX IF NOT EXISTS saga_outbox_pending_due ON skald.saga_outbox" +
		" (next_attempt_at, id) WHERE state = 'pending';" +
		"CREATE INDEX IF NOT EXISTS saga_outbox_pending_age ON skald.saga_outbox (id)" +
		" WHERE state = 'pending';" +
		"CREATE INDEX IF NOT EXISTS saga_outbox_sent ON skald.saga_outbox (sent_at)" +
		" WHERE state = 'sent';" +
		"CREATE INDEX IF NOT EXISTS saga_outbox_refused ON skald.saga_outbox (id)" +
		" WHERE state = 'refused';"

	outboxInsertSQL = "INSERT INTO skald.saga_outbox (saga_id, definition, version, input_json, traceparent," +
		" callback_url) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (saga_id) DO NOTHING RETURNING id"
	outboxExistingSQL = "SELECT definition, version, input_json FROM skald.saga_outbox WHERE saga_id = $1"
	outboxNotifySQL   = "SELECT pg_notify($1, '')"
	outboxRefusedSQL  = "SELECT id, saga_id, definition, error_code, error_message, attempts, created_at," +
		" refused_at FROM skald.saga_outbox WHERE state = 'refused' ORDER BY id LIMIT $1"
	outboxRequeueSQL = "UPDATE skald.saga_outbox SET state = 'pending', next_attempt_at = clock_timestamp()," +
		" refused_at = NULL WHERE saga_id = $1 AND state = 'refused' RETURNING id"
	outboxBacklogSQL = "SELECT (SELECT count(*) FROM (SELECT 1 FROM skald.saga_outbox WHERE state = 'pending'" +
		"        LIMIT 100000) p)," +
		" (SELECT count(*) FROM (SELECT 1 FROM skald.saga_outbox WHERE state = 'refused'" +
		"        LIMIT 100000) r)," +
		" (SELECT coalesce(extract(epoch FROM clock_timestamp() - created_at) * 1000, 0)::bigint" +
		"  FROM skald.saga_outbox WHERE state = 'pending' ORDER BY id LIMIT 1)"
)

// OutboxLimits bound what StartSagaInTransaction accepts; zero values are the coordinator's
// defaults (128, 128, 1 MiB, 64).
type OutboxLimits struct {
	MaxSagaIDLength     int
	MaxDefinitionLength int
	MaxInputBytes       int
	MaxInputDepth       int
}

func (l OutboxLimits) withDefaults() OutboxLimits {
	if l.MaxSagaIDLength <= 0 {
		l.MaxSagaIDLength = 128
	}
	if l.MaxDefinitionLength <= 0 {
		l.MaxDefinitionLength = 128
	}
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = 1 << 20
	}
	if l.MaxInputDepth <= 0 {
		l.MaxInputDepth = 64
	}
	return l
}

// SagaStartOptions are the optional parts of a start.
type SagaStartOptions struct {
	Version     int32  // 0: the newest version when the relay sends the start
	Traceparent string // W3C trace context the saga continues; empty: the coordinator's own
	CallbackURL string // where the coordinator POSTs the saga's outcome; empty: none
	Limits      OutboxLimits
}

// ErrOutboxInvalid wraps every refusal of StartSagaInTransaction's arguments;
// ErrOutboxConflict a saga id already in the outbox with another request.
var (
	ErrOutboxInvalid  = errors.New("invalid saga start")
	ErrOutboxConflict = errors.New("saga id already in the outbox with another start request")
)

// ApplyOutboxSchema creates schema skald and table skald.saga_outbox with its indexes if they
// do not exist, serialized with every other caller on the database. Idempotent.
func ApplyOutboxSchema(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating skald.saga_outbox: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, outboxSchemaLockSQL); err != nil {
		return fmt.Errorf("creating skald.saga_outbox: %w", err)
	}
	if _, err := tx.Exec(ctx, outboxSchemaSQL); err != nil {
		return fmt.Errorf("creating skald.saga_outbox: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("creating skald.saga_outbox: %w", err)
	}
	return nil
}

func invalid(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", ErrOutboxInvalid, fmt.Sprintf(format, args...))
}

// checkName is the coordinator's rule for names and saga ids.
func checkName(field, value string, maxLength int) error {
	if value == "" {
		return invalid("%s: must not be empty", field)
	}
	if len(value) > maxLength {
		return invalid("%s: %d characters, over the limit of %d", field, len(value), maxLength)
	}
	for i, c := range value {
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if i == 0 && !alnum {
			return invalid("%s: must start with a letter or digit", field)
		}
		if !alnum && c != '-' && c != '_' && c != '.' {
			return invalid("%s: may hold only letters, digits, '-', '_' and '.'", field)
		}
	}
	return nil
}

// checkJSON walks a decoded value: no NUL character (PostgreSQL cannot store it), bounded depth.
func checkJSON(value interface{}, path string, depth, maxDepth int) error {
	if depth > maxDepth {
		if path == "" {
			path = "/"
		}
		return invalid("input: nested deeper than %d levels at %s", maxDepth, path)
	}
	switch v := value.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return invalid("input: a string holds a NUL character at %s", path)
		}
	case map[string]interface{}:
		for key, item := range v {
			if strings.ContainsRune(key, 0) {
				return invalid("input: a key holds a NUL character")
			}
			if err := checkJSON(item, path+"/"+key, depth+1, maxDepth); err != nil {
				return err
			}
		}
	case []interface{}:
		for i, item := range v {
			if err := checkJSON(item, fmt.Sprintf("%s/%d", path, i), depth+1, maxDepth); err != nil {
				return err
			}
		}
	}
	return nil
}

func randomSagaID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // The system's random source failed: nothing sensible to do.
	}
	return "outbox-" + hex.EncodeToString(b[:])
}

// StartSagaInTransaction records in tx that saga sagaID of definition must start with input
// (anything json.Marshal makes a JSON object of; a json.RawMessage or []byte is taken as
// JSON text) once tx commits, and returns the saga id at once. An empty sagaID is replaced by
// a random one ("outbox-" and 32 hex digits). Recording the same saga id again with the same
// request returns the id and adds nothing; with another request it is ErrOutboxConflict.
// Arguments the coordinator would refuse (a bad saga id or definition name, an input that is
// not an object, too large, too deep, holding NUL or invalid UTF-8, a bad version or URL)
// wrap ErrOutboxInvalid and write nothing. A database error is returned as is (tx is then
// unusable, as after any failed statement). REQUIRES: ApplyOutboxSchema has succeeded.
func StartSagaInTransaction(ctx context.Context, tx pgx.Tx, definition string, input interface{},
	sagaID string, options ...SagaStartOptions) (string, error) {
	var opts SagaStartOptions
	if len(options) > 0 {
		opts = options[0]
	}
	limits := opts.Limits.withDefaults()
	if sagaID == "" {
		sagaID = randomSagaID()
	}
	if err := checkName("saga_id", sagaID, limits.MaxSagaIDLength); err != nil {
		return "", err
	}
	if err := checkName("definition", definition, limits.MaxDefinitionLength); err != nil {
		return "", err
	}
	if opts.Version < 0 {
		return "", invalid("version: must be 0 (the newest) or positive")
	}
	if len(opts.Traceparent) > 55 {
		return "", invalid("traceparent: over 55 characters")
	}
	if url := opts.CallbackURL; url != "" && (len(url) > 2048 ||
		!(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://"))) {
		return "", invalid("callback_url: must start with http:// or https://, at most 2048 characters")
	}
	var text []byte
	switch v := input.(type) {
	case json.RawMessage:
		text = v
	case []byte:
		text = v
	default:
		var err error
		if text, err = json.Marshal(input); err != nil {
			return "", invalid("input: %v", err)
		}
	}
	if len(text) > limits.MaxInputBytes {
		return "", fmt.Errorf("%w: input: %d bytes, over the limit of %d", ErrOutboxInvalid, len(text),
			limits.MaxInputBytes)
	}
	if !utf8.Valid(text) {
		return "", invalid("input: not valid UTF-8")
	}
	var decoded interface{}
	if err := json.Unmarshal(text, &decoded); err != nil {
		return "", invalid("input: not JSON: %v", err)
	}
	if _, ok := decoded.(map[string]interface{}); !ok {
		return "", invalid("input: must be a JSON object")
	}
	if err := checkJSON(decoded, "", 1, limits.MaxInputDepth); err != nil {
		return "", err
	}
	inputJSON := string(text)
	rows, err := tx.Query(ctx, outboxInsertSQL, sagaID, definition, opts.Version, inputJSON,
		opts.Traceparent, opts.CallbackURL)
	if err != nil {
		return "", err
	}
	inserted := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !inserted {
		var existingDefinition, existingInput string
		var existingVersion int32
		if err := tx.QueryRow(ctx, outboxExistingSQL, sagaID).Scan(&existingDefinition, &existingVersion,
			&existingInput); err != nil {
			return "", err
		}
		if existingDefinition != definition || existingVersion != opts.Version || existingInput != inputJSON {
			return "", fmt.Errorf("%w: saga_id %q", ErrOutboxConflict, sagaID)
		}
		return sagaID, nil
	}
	if _, err := tx.Exec(ctx, outboxNotifySQL, OutboxChannel); err != nil {
		return "", err
	}
	return sagaID, nil
}

// RefusedStart is a start the coordinator refused for good.
type RefusedStart struct {
	ID           int64
	SagaID       string
	Definition   string
	ErrorCode    string // the gRPC code's name, e.g. "NOT_FOUND"
	ErrorMessage string
	Attempts     int
	CreatedAt    time.Time
	RefusedAt    time.Time
}

// outboxDB is what the read functions need: a pool or a connection.
type outboxDB interface {
	Query(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...interface{}) pgx.Row
}

// ListRefusedStarts returns at most limit (1..10000) refused starts, oldest first.
func ListRefusedStarts(ctx context.Context, db outboxDB, limit int) ([]RefusedStart, error) {
	if limit < 1 || limit > 10000 {
		return nil, invalid("limit: must be from 1 to 10000")
	}
	rows, err := db.Query(ctx, outboxRefusedSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("listing refused starts: %w", err)
	}
	defer rows.Close()
	var starts []RefusedStart
	for rows.Next() {
		var s RefusedStart
		if err := rows.Scan(&s.ID, &s.SagaID, &s.Definition, &s.ErrorCode, &s.ErrorMessage, &s.Attempts,
			&s.CreatedAt, &s.RefusedAt); err != nil {
			return nil, fmt.Errorf("listing refused starts: %w", err)
		}
		starts = append(starts, s)
	}
	return starts, rows.Err()
}

// ErrNoRefusedStart: RequeueRefusedStart found no refused row with that saga id.
var ErrNoRefusedStart = errors.New("no refused start has this saga id")

// RequeueRefusedStart makes the refused start of sagaID pending again (e.g. after applying the
// definition it named), so that a relay sends it at once.
func RequeueRefusedStart(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, sagaID string) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, outboxRequeueSQL, sagaID).Scan(&id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNoRefusedStart, sagaID)
		}
		return err
	}
	if _, err := tx.Exec(ctx, outboxNotifySQL, OutboxChannel); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// OutboxBacklog is the outbox as a metric: how far behind the relays are.
type OutboxBacklog struct {
	Pending          int64         // rows not sent yet (counted up to 100,000)
	Refused          int64         // rows refused for good (counted up to 100,000)
	OldestPendingAge time.Duration // zero when none is pending
}

// ReadOutboxBacklog reads the backlog.
func ReadOutboxBacklog(ctx context.Context, db outboxDB) (OutboxBacklog, error) {
	var b OutboxBacklog
	var ageMillis *int64
	if err := db.QueryRow(ctx, outboxBacklogSQL).Scan(&b.Pending, &b.Refused, &ageMillis); err != nil {
		return b, fmt.Errorf("reading the outbox backlog: %w", err)
	}
	if ageMillis != nil {
		b.OldestPendingAge = time.Duration(*ageMillis) * time.Millisecond
	}
	return b, nil
}
