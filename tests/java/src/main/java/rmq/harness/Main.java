package rmq.harness;

import java.io.File;
import java.io.PrintStream;
import java.util.Set;

/**
 * rmq test harness over the unmodified Apache RocketMQ Java client (remoting).
 * stdout carries exactly one JSON line (the result); everything else goes to stderr.
 * Exit codes: 0 ok, 1 ran but not ok (see JSON), 2 usage error, 3 fatal (client could not start,
 * watchdog), 4 scenario not supported by this client. CLI reference: tests/harness.md.
 */
public final class Main {
    static final String USAGE = String.join("\n",
            "usage: rmq-harness <scenario> [options]",
            "  produce --namesrv ADDR --topic T --count N [--mode sync|async|oneway|batch|transaction] [--tag TAG] [--keys]",
            "          [--body-size B] [--group G] [--prefix P] [--start S] [--batch-size K] [--delay-level L]",
            "          [--send-timeout-ms MS] [--retries R] [--inflight M] [--shards S] [--timeout-ms MS] [--out FILE]",
            "          [--tx commit|rollback|unknown|mix] [--check commit|rollback|unknown] [--wait-checks N]",
            "          [--interval-ms MS] [--stop-file PATH]   (sync: pause between sends; stop once PATH exists)",
            "  consume --namesrv ADDR --topic T --group G --expect N [--timeout-ms MS] [--tag EXPR | --sql EXPR]",
            "          [--from first|last|timestamp:MS] [--prefix P] [--start S] [--linger-ms MS] [--broadcast] [--orderly]",
            "          [--shards S] [--reconsume-later K] [--retry-delay-level L] [--max-reconsume-times R]",
            "          [--consume-threads T] [--pull-batch B] [--out FILE] [--expect-file F [--settle-ms MS]]",
            "  pull    --namesrv ADDR --topic T --group G --expect N [--timeout-ms MS] [--tag EXPR | --sql EXPR]",
            "          [--from first|last|timestamp:MS] [--prefix P] [--start S] [--pull-batch B] [--out FILE]",
            "  query   --namesrv ADDR --topic T (--key K | --msg-id ID) [--expect N] [--timeout-ms MS] [--max M]",
            "  version",
            "common: [--instance NAME] [--log-dir DIR] [--access-key K --secret-key S] [--api-timeout-ms MS]  (see tests/harness.md)",
            "        --access-key/--secret-key: sign every request (AclClientRPCHook with SessionCredentials)");

    private static final Set<String> COMMON = Set.of("namesrv", "topic", "group", "prefix", "start", "timeout-ms", "out",
            "instance", "log-dir", "access-key", "secret-key", "api-timeout-ms");

    private static Set<String> union(Set<String> a, String... more) {
        java.util.HashSet<String> s = new java.util.HashSet<>(a);
        s.addAll(Set.of(more));
        return s;
    }

    public static void main(String[] argv) {
        PrintStream out = System.out;
        System.setOut(System.err); // client libraries must not pollute the result line
        int rc;
        try {
            rc = run(argv, out);
        } catch (Args.UsageException e) {
            System.err.println("rmq-harness: usage error: " + e.getMessage());
            System.err.println(USAGE);
            rc = 2;
        } catch (Throwable t) {
            t.printStackTrace();
            String m = String.valueOf(t.getMessage());
            int nl = m.indexOf('\n');
            if (nl > 0) m = m.substring(0, nl);
            out.println(new Json().put("ok", false).put("scenario", argv.length > 0 ? argv[0] : "").put("client", "java").put("clientVersion", Ctx.clientVersion())
                    .put("fatal", t.getClass().getSimpleName() + ": " + m));
            rc = 3;
        }
        out.flush();
        System.exit(rc);
    }

    private static void watchdog(PrintStream out, long ms, String scenario) {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                return;
            }
            out.println(new Json().put("ok", false).put("scenario", scenario).put("client", "java")
                    .put("clientVersion", Ctx.clientVersion()).put("fatal", "watchdog: no result " + ms + " ms after start"));
            out.flush();
            Runtime.getRuntime().halt(3);
        }, "rmq-harness-watchdog");
        t.setDaemon(true);
        t.start();
    }

    static int run(String[] argv, PrintStream out) throws Exception {
        if (argv.length == 0) throw new Args.UsageException("missing scenario");
        String scenario = argv[0];
        Set<String> flags;
        Set<String> valued;
        switch (scenario) {
            case "produce":
                flags = Set.of("keys");
                valued = union(COMMON, "count", "mode", "tag", "body-size", "batch-size", "delay-level", "send-timeout-ms",
                        "retries", "inflight", "shards", "tx", "check", "wait-checks", "interval-ms", "stop-file");
                break;
            case "consume":
                flags = Set.of("broadcast", "orderly");
                valued = union(COMMON, "expect", "expect-file", "settle-ms", "tag", "sql", "from", "linger-ms", "shards", "reconsume-later",
                        "retry-delay-level", "max-reconsume-times", "consume-threads", "pull-batch");
                break;
            case "pull":
                flags = Set.of("broadcast");
                valued = union(COMMON, "expect", "tag", "sql", "from", "linger-ms", "shards", "pull-batch");
                break;
            case "query":
                flags = Set.of();
                valued = union(COMMON, "key", "msg-id", "expect", "max");
                break;
            case "version":
                out.println(new Json().put("ok", true).put("scenario", "version").put("client", "java")
                        .put("clientVersion", Ctx.clientVersion()));
                return 0;
            case "-h":
            case "--help":
            case "help":
                System.err.println(USAGE);
                return 0;
            default:
                throw new Args.UsageException("unknown scenario '" + scenario + "'");
        }
        Args a = new Args(argv, 1, flags, valued);
        // client logs: keep them out of ~ and out of stdout
        String logDir = a.str("log-dir", System.getenv().getOrDefault("RMQ_HARNESS_LOG_DIR",
                System.getProperty("java.io.tmpdir") + File.separator + "rmq-harness-logs"));
        new File(logDir).mkdirs();
        System.setProperty("rocketmq.client.logRoot", logDir);
        System.setProperty("rocketmq.client.localOffsetStoreDir", logDir + File.separator + "offsets");
        if (System.getProperty("rocketmq.client.logLevel") == null) System.setProperty("rocketmq.client.logLevel", "WARN");
        long timeout = a.num("timeout-ms", scenario.equals("produce") ? 300_000 : 60_000, 1, 86_400_000);
        watchdog(out, timeout + 60_000, scenario);
        Ctx ctx = new Ctx(out);
        switch (scenario) {
            case "produce": return new Produce(ctx).run(a);
            case "consume": return new Consume(ctx).push(a);
            case "pull": return new Consume(ctx).pull(a);
            default: return new Query(ctx).run(a);
        }
    }
}
