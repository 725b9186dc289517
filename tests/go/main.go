// Command rmq-harness-go drives the unmodified Apache RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2) for rmq's end-to-end tests.
//
// stdout carries exactly one JSON line (the result); logs go to stderr. Exit codes: 0 ok, 1 ran but
// not ok, 2 usage error, 3 fatal (client could not start, watchdog), 4 not supported by this client.
// The CLI is the same as the Java harness; see tests/harness.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

const clientName = "go"

// clientVersion is the rocketmq-client-go module version, filled in from build info.
var clientVersion = "unknown"

var stdout = os.Stdout

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type unsupported struct{ msg string }

func (e unsupported) Error() string { return e.msg }

const usage = `usage: rmq-harness-go <scenario> [options]
  produce --namesrv ADDR --topic T --count N [--mode sync|async|oneway|batch|transaction] [--tag TAG] [--keys]
          [--body-size B] [--group G] [--prefix P] [--start S] [--batch-size K] [--delay-level L]
          [--send-timeout-ms MS] [--retries R] [--inflight M] [--shards S] [--timeout-ms MS] [--out FILE]
          [--tx commit|rollback|unknown|mix] [--check commit|rollback|unknown] [--wait-checks N]
  consume --namesrv ADDR --topic T --group G --expect N [--timeout-ms MS] [--tag EXPR | --sql EXPR]
          [--from first|last|timestamp:MS] [--prefix P] [--start S] [--linger-ms MS] [--broadcast] [--orderly]
          [--shards S] [--reconsume-later K] [--retry-delay-level L] [--max-reconsume-times R]
          [--consume-threads T] [--pull-batch B] [--out FILE]
  pull    --namesrv ADDR --topic T --group G --expect N [--timeout-ms MS] [--tag EXPR | --sql EXPR]
          [--from first|last|timestamp:MS] [--prefix P] [--start S] [--pull-batch B] [--out FILE]
  query   (not supported by the Go client: exits 4)
  version
common: [--instance NAME] [--log-dir DIR]  (see tests/harness.md)`

// ctx collects errors and optional per-message records and writes the result line.
type runCtx struct {
	t0      time.Time
	mu      sync.Mutex
	errs    map[string]int
	order   []string
	nErrs   int
	records io.WriteCloser
}

func newCtx() *runCtx { return &runCtx{t0: time.Now(), errs: map[string]int{}} }

func (c *runCtx) elapsed() int64 { return time.Since(c.t0).Milliseconds() }

func (c *runCtx) error(err error) {
	if err == nil {
		return
	}
	m := err.Error()
	if i := strings.IndexByte(m, '\n'); i > 0 {
		m = m[:i]
	}
	if len(m) > 300 {
		m = m[:300]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nErrs++
	if _, ok := c.errs[m]; ok {
		c.errs[m]++
	} else if len(c.errs) < 8 {
		c.errs[m] = 1
		c.order = append(c.order, m)
	}
}

func (c *runCtx) openRecords(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	c.records = f
	return nil
}

func (c *runCtx) record(format string, a ...interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records != nil {
		fmt.Fprintf(c.records, format+"\n", a...)
	}
}

func (c *runCtx) closeRecords() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records != nil {
		c.records.Close()
		c.records = nil
	}
}

// obj is an insertion-ordered JSON object.
type obj struct {
	keys []string
	vals map[string]interface{}
}

func newObj() *obj { return &obj{vals: map[string]interface{}{}} }

func (o *obj) put(k string, v interface{}) *obj {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *obj) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		sb.Write(kb)
		sb.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		sb.Write(vb)
	}
	sb.WriteByte('}')
	return []byte(sb.String()), nil
}

func result(scenario string, ok bool) *obj {
	return newObj().put("ok", ok).put("scenario", scenario).put("client", clientName).put("clientVersion", clientVersion)
}

var emitOnce sync.Mutex

func emitLine(o *obj) {
	b, err := json.Marshal(o)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"ok":false,"fatal":%q}`, err.Error()))
	}
	emitOnce.Lock()
	stdout.Write(append(b, '\n'))
	emitOnce.Unlock()
}

func (c *runCtx) emit(o *obj) {
	c.mu.Lock()
	errs := make([]*obj, 0, len(c.order))
	for _, m := range c.order {
		errs = append(errs, newObj().put("message", m).put("count", c.errs[m]))
	}
	n := c.nErrs
	c.mu.Unlock()
	o.put("elapsedMs", c.elapsed()).put("errorCount", n).put("errors", errs)
	emitLine(o)
}

func sortedMap(m map[string]int64) map[string]int64 { return m } // encoding/json sorts map keys

func sortedKeys(m map[string]int64) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// flags
type flagSet struct {
	fs  *flag.FlagSet
	set map[string]bool
}

func newFlags(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{fs: fs}
}

func (f *flagSet) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if f.fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument '%s'", f.fs.Arg(0))}
	}
	f.set = map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return nil
}

func (f *flagSet) has(name string) bool { return f.set[name] }

func required(name, v string) error {
	if v == "" {
		return usageError{"missing required option --" + name}
	}
	return nil
}

func checkRange(name string, v, min, max int64) error {
	if v < min || v > max {
		return usageError{fmt.Sprintf("option --%s must be in [%d, %d], got %d", name, min, max, v)}
	}
	return nil
}

func oneOf(name, v string, allowed ...string) error {
	for _, a := range allowed {
		if a == v {
			return nil
		}
	}
	return usageError{fmt.Sprintf("option --%s must be one of %s, got '%s'", name, strings.Join(allowed, "|"), v)}
}

// common options of every scenario
type common struct {
	namesrv, topic, group, prefix, out, instance, logDir string
	accessKey, secretKey                                 string
	start, timeoutMs                                     int64
}

// credentials are the ACL credentials of --access-key/--secret-key (nil when not given); the
// client signs every request with them, as the Java client's AclClientRPCHook does.
func (c *common) credentials() *primitive.Credentials {
	if c.accessKey == "" {
		return nil
	}
	return &primitive.Credentials{AccessKey: c.accessKey, SecretKey: c.secretKey}
}

func (c *common) register(f *flagSet, defGroup string, defTimeout int64) {
	f.fs.StringVar(&c.namesrv, "namesrv", "", "")
	f.fs.StringVar(&c.topic, "topic", "", "")
	f.fs.StringVar(&c.group, "group", defGroup, "")
	f.fs.StringVar(&c.prefix, "prefix", "m", "")
	f.fs.StringVar(&c.out, "out", "", "")
	f.fs.StringVar(&c.instance, "instance", "", "")
	f.fs.StringVar(&c.logDir, "log-dir", "", "")
	f.fs.StringVar(&c.accessKey, "access-key", "", "")
	f.fs.StringVar(&c.secretKey, "secret-key", "", "")
	f.fs.Int64Var(&c.start, "start", 0, "")
	f.fs.Int64Var(&c.timeoutMs, "timeout-ms", defTimeout, "")
}

func (c *common) validate() error {
	if err := required("namesrv", c.namesrv); err != nil {
		return err
	}
	if err := required("topic", c.topic); err != nil {
		return err
	}
	if err := required("group", c.group); err != nil {
		return err
	}
	if (c.accessKey == "") != (c.secretKey == "") {
		return usageError{"--access-key and --secret-key go together: give both or neither"}
	}
	if err := checkRange("start", c.start, 0, 1<<31-50_000_002); err != nil {
		return err
	}
	if err := checkRange("timeout-ms", c.timeoutMs, 1, 86_400_000); err != nil {
		return err
	}
	if c.logDir != "" {
		if err := os.MkdirAll(c.logDir, 0o755); err == nil {
			rlog.SetOutputPath(c.logDir + "/rocketmq-client-go.log")
		}
	}
	watchdog(time.Duration(c.timeoutMs+60_000) * time.Millisecond)
	return nil
}

func watchdog(d time.Duration) {
	go func() {
		time.Sleep(d)
		emitLine(newObj().put("ok", false).put("client", clientName).put("clientVersion", clientVersion).
			put("fatal", fmt.Sprintf("watchdog: no result %d ms after start", d.Milliseconds())))
		os.Exit(3)
	}()
}

func main() {
	os.Stdout = os.Stderr // nothing but the result line goes to the real stdout
	initVersion()
	if os.Getenv("ROCKETMQ_GO_LOG_LEVEL") == "" {
		rlog.SetLogLevel("warn")
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "rmq-harness-go: usage error: missing scenario\n"+usage)
		return 2
	}
	var err error
	c := newCtx()
	switch args[0] {
	case "produce":
		err = runProduce(c, args[1:])
	case "consume":
		err = runConsume(c, args[1:], false)
	case "pull":
		err = runConsume(c, args[1:], true)
	case "query":
		err = unsupported{"query by key / msgId is not exposed by rocketmq-client-go v2"}
	case "version":
		emitLine(newObj().put("ok", true).put("scenario", "version").put("client", clientName).put("clientVersion", clientVersion))
		return 0
	case "-h", "--help", "help":
		fmt.Fprintln(os.Stderr, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown scenario '%s'", args[0])}
	}
	var ue usageError
	var un unsupported
	var nok notOK
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "rmq-harness-go: usage error: "+ue.msg+"\n"+usage)
		return 2
	case errors.As(err, &un):
		emitLine(result(args[0], false).put("unsupported", un.msg))
		return 4
	case errors.As(err, &nok):
		return 1
	default:
		fmt.Fprintln(os.Stderr, "rmq-harness-go: fatal: "+err.Error())
		emitLine(result(args[0], false).put("fatal", err.Error()))
		return 3
	}
}

// notOK: the scenario ran and printed its result, which is not ok.
type notOK struct{}

func (notOK) Error() string { return "not ok" }

func okOrNot(ok bool) error {
	if ok {
		return nil
	}
	return notOK{}
}
