package rmq.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;

/**
 * rmq benchmark load driver over the official RocketMQ Java client. Every command prints JSON lines
 * on stdout (one per measured phase); progress and errors go to stderr. Commands:
 *
 * <pre>
 *   net     [--seconds S] [--rtt-count N]                 loopback TCP bandwidth + 1-byte round trip
 *   watch   --namesrv A --broker-name N [--timeout-ms T] [--ready-file F]
 *                                                         epoch ms when N first shows in cluster info
 *   topic   --namesrv A --broker B --topics T1,T2 [--queues 8] [--timeout-ms T]
 *                                                         create topics on B, wait for the routes
 *   load    --namesrv A --broker B --topic T --plan P [--broker-pid PID] [--warmup-ms W]
 *           [--measure-ms M] [--initial-warmup-ms X] [--inflight K] [--backlog-topic T2]
 *           [--phase-timeout-ms T] [--clk-tck 100] [--broker-pid-file F]
 *           [--watch-broker-name N --ready-file F] [--create-topics T1,T2 --queues 8] [--idle-ms M]
 *           [--settle-ms S] [--e2e-topic T3]
 * </pre>
 *
 * A plan is a comma list of phases: {@code sync:SIZE:THREADS}, {@code async:SIZE} (see
 * {@link ClosedLoop}), {@code openpct:SIZE:PCT} and {@code e2e:SIZE:RATE} (fixed-rate phases, see
 * {@link Paced}), {@code fill:SIZE:COUNT} (batch sends of COUNT messages to the backlog topic),
 * {@code consume} (push consumer drains what fill acknowledged; see {@link Backlog}) and
 * {@code scale:TOPICS:GROUPS:RATE} (see {@link Scale}). Every phase's line also says how
 * busy the machine was around it (see {@link Host}); {@link Load} runs the plan.
 *
 * <p>Exit codes: 0 ok, 1 a phase (or the watch, or a topic) failed, 2 a usage error, 3 an
 * unexpected exception (then the last line is {@code {"ok":false,"fatal":"..."}}).
 */
public final class Driver {
    private Driver() {}

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: Driver net|watch|topic|load [--name value]...");
            System.exit(2);
        }
        Map<String, String> a = Args.parse(argv);
        int rc;
        try {
            switch (argv[0]) {
                case "net": rc = Net.run(a); break;
                case "watch": rc = watch(a); break;
                case "topic": rc = topic(a); break;
                case "load": rc = new Load(a).run(); break;
                default: Args.die("unknown command " + argv[0]); rc = 2;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", false);
            m.put("fatal", String.valueOf(t));
            Json.emit(m);
            rc = 3;
        }
        Json.OUT.flush();
        System.exit(rc);
    }

    /** {@code watch}: writes --ready-file, then prints when the broker registered; 1 if it never did. */
    static int watch(Map<String, String> a) throws Exception {
        NettyRemotingClient c = Admin.remoting();
        if (a.containsKey("ready-file")) Files.writeString(Path.of(a.get("ready-file")), "ready\n");
        Map<String, Object> m = Admin.watchRegistered(c, Args.req(a, "namesrv"), Args.req(a, "broker-name"),
                Args.num(a, "timeout-ms", 120_000));
        Json.emit(m);
        c.shutdown();
        return Boolean.TRUE.equals(m.get("ok")) ? 0 : 1;
    }

    /** {@code topic}: creates the topics and waits for their routes; 1 if that failed. */
    static int topic(Map<String, String> a) throws Exception {
        NettyRemotingClient c = Admin.remoting();
        Map<String, Object> m = Admin.createTopics(c, Args.req(a, "namesrv"), Args.req(a, "broker"), Args.req(a, "topics").split(","),
                (int) Args.num(a, "queues", 8), Args.num(a, "timeout-ms", 30_000));
        Json.emit(m);
        c.shutdown();
        return Boolean.TRUE.equals(m.get("ok")) ? 0 : 1;
    }
}
