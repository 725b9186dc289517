package rmq.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;

/**
 * The {@code load} command: its options, the state its phases share (the producer, the admin
 * client, the broker's process, this run's peaks, what fill stored) and the phase plan. It
 * prepares (see {@link #prepare}), runs an unreported warm-up, then every phase of --plan in
 * order, one JSON line each with the host fields of {@link Host}. Exit code 0 when every phase
 * was ok, 1 when one was not or the preparation failed, 2 on an unknown phase.
 */
final class Load {
    final Map<String, String> a;
    final String ns, broker, topic, backlogTopic;
    final long warmupMs, measureMs, initialWarmupMs, phaseTimeoutMs;
    final int inflight, queues;
    final long settleMs;
    final String e2eTopic;
    int e2eRuns;
    /** By body size: the best msgs/s of an ok closed-loop phase so far and its plan text (openpct). */
    final Map<Integer, Object[]> peaks = new HashMap<>();
    final Proc self;
    final long clkTck;
    Proc brokerProc;
    NettyRemotingClient admin;
    DefaultMQProducer producer;
    /** How many messages the last fill phase stored (-1 before any), and their body size. */
    long filled = -1;
    int fillSize = 0;

    Load(Map<String, String> a) {
        this.a = a;
        ns = Args.req(a, "namesrv");
        broker = Args.req(a, "broker");
        topic = Args.req(a, "topic");
        backlogTopic = a.getOrDefault("backlog-topic", topic + "Backlog");
        warmupMs = Args.num(a, "warmup-ms", 2000);
        measureMs = Args.num(a, "measure-ms", 10_000);
        initialWarmupMs = Args.num(a, "initial-warmup-ms", 3000);
        phaseTimeoutMs = Args.num(a, "phase-timeout-ms", 60_000);
        inflight = (int) Args.num(a, "inflight", 512);
        queues = (int) Args.num(a, "queues", 8);
        settleMs = Args.num(a, "settle-ms", 30_000);
        e2eTopic = a.getOrDefault("e2e-topic", topic + "E2e");
        clkTck = Args.num(a, "clk-tck", 100);
        brokerProc = a.containsKey("broker-pid") ? new Proc(a.get("broker-pid"), clkTck) : null;
        self = new Proc("self", clkTck);
    }

    /** Prepares, runs the plan; the exit code (see the class doc). */
    int run() throws Exception {
        admin = Admin.remoting();
        if (!prepare()) {
            admin.shutdown();
            return 1;
        }
        startProducer();
        int failures = 0;
        String[] plan = Args.req(a, "plan").split(",");
        if (initialWarmupMs > 0) {
            // not reported: JIT warm-up of the driver (and the broker), route lookup, page cache
            ClosedLoop.sync(this, 128, 16, initialWarmupMs, 0, false);
        }
        for (String p : plan) {
            String[] f = p.trim().split(":");
            Host before = new Host(brokerProc, self);
            Map<String, Object> r = runPhase(f);
            if (r == null) {
                Args.die("unknown phase " + p);
                return 2;
            }
            notePeak(p.trim(), f, r);
            before.writeUntil(new Host(brokerProc, self), clkTck, r);
            if (!Boolean.TRUE.equals(r.get("ok"))) failures++;
            Json.emit(r);
        }
        producer.shutdown();
        admin.shutdown();
        return failures == 0 ? 0 : 1;
    }

    void startProducer() throws Exception {
        producer = new DefaultMQProducer("bench_producer");
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("bench-p-" + ProcessHandle.current().pid());
        producer.setVipChannelEnabled(false);
        producer.setSendMsgTimeout(3000);
        producer.start();
    }

    /** One phase of the plan, split at ':' (e.g. {sync, 128, 64}); its result, or null when the phase is unknown. */
    Map<String, Object> runPhase(String[] f) throws Exception {
        switch (f[0]) {
            case "sync": return ClosedLoop.sync(this, Integer.parseInt(f[1]), Integer.parseInt(f[2]), warmupMs, measureMs, true);
            case "async": return ClosedLoop.async(this, Integer.parseInt(f[1]), warmupMs, measureMs);
            case "openpct": return Paced.openPct(this, Integer.parseInt(f[1]), Double.parseDouble(f[2]));
            case "e2e": return Paced.e2e(this, Integer.parseInt(f[1]), Double.parseDouble(f[2]));
            case "fill": return Backlog.fill(this, Integer.parseInt(f[1]), Long.parseLong(f[2]));
            case "consume": return Backlog.consume(this);
            case "scale": return Scale.run(this, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Double.parseDouble(f[3]));
            default: return null;
        }
    }

    /** Keeps the best msgs/s of an ok sync/async phase for its body size (openpct's peak). */
    void notePeak(String text, String[] f, Map<String, Object> r) {
        if (!(f[0].equals("sync") || f[0].equals("async")) || !Boolean.TRUE.equals(r.get("ok"))) return;
        Object tps = r.get("tps");
        if (!(tps instanceof Double)) return;
        int size = Integer.parseInt(f[1]);
        Object[] best = peaks.get(size);
        if (best == null || (Double) tps > (Double) best[0]) peaks.put(size, new Object[] {tps, text});
    }

    /**
     * Optional steps before the load, all in this JVM: wait for the broker to register
     * (--watch-broker-name, after writing --ready-file), read its pid (--broker-pid-file),
     * create the topics (--create-topics, --queues) and sample the idle broker (--idle-ms).
     * False when the broker did not register or the topics could not be created.
     */
    boolean prepare() throws Exception {
        if (a.containsKey("watch-broker-name") && !awaitBroker()) return false;
        if (a.containsKey("broker-pid-file")) readBrokerPid(Path.of(a.get("broker-pid-file")));
        if (a.containsKey("create-topics") && !createTopics()) return false;
        if (a.containsKey("idle-ms") && brokerProc != null) sampleIdle(Args.num(a, "idle-ms", 1000));
        return true;
    }

    /**
     * Writes --ready-file, then waits for the broker to register; emits the watch line. Before
     * the ready file, 50 cluster-info polls open the watcher's connection and warm its code (a
     * cold JVM's first polls took ~90 ms: the start-up time measured the watcher, not the broker).
     */
    boolean awaitBroker() throws Exception {
        for (int i = 0; i < 50; i++) {
            try {
                Admin.clusterInfo(admin, ns);
            } catch (Exception e) {
                // the broker is not up yet; only the warm-up matters here
            }
        }
        if (a.containsKey("ready-file")) Files.writeString(Path.of(a.get("ready-file")), "ready\n");
        Map<String, Object> w = Admin.watchRegistered(admin, ns, a.get("watch-broker-name"), Args.num(a, "watch-timeout-ms", 120_000));
        Json.emit(w);
        return Boolean.TRUE.equals(w.get("ok"));
    }

    /** The broker's process from its pid file (waits up to 60 s for the file; says so on stderr if not). */
    void readBrokerPid(Path f) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (brokerProc == null && System.currentTimeMillis() < deadline) {
            try {
                String pid = Files.readString(f).trim();
                if (!pid.isEmpty()) brokerProc = new Proc(pid, clkTck);
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        if (brokerProc == null) System.err.println("driver: no broker pid in " + f);
    }

    /** Creates --create-topics with --queues queues; emits the topic line. */
    boolean createTopics() throws Exception {
        Map<String, Object> t = Admin.createTopics(admin, ns, broker, a.get("create-topics").split(","), queues,
                Args.num(a, "topic-timeout-ms", 40_000));
        Json.emit(t);
        return Boolean.TRUE.equals(t.get("ok"));
    }

    /** The idle line: the broker's RSS after IDLE ms and its CPU over them. */
    void sampleIdle(long idle) throws InterruptedException {
        double c0 = brokerProc.cpuSeconds();
        Thread.sleep(idle);
        long[] r = brokerProc.rss();
        Map<String, Object> m = base("idle");
        m.put("brokerRssKb", r[0]);
        m.put("brokerRssAnonKb", r[1]);
        m.put("brokerCpuPct", (brokerProc.cpuSeconds() - c0) / (idle / 1000.0) * 100);
        Json.emit(m);
    }

    /** A phase's result so far: {phase, ok: true}. */
    Map<String, Object> base(String phase) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("phase", phase);
        m.put("ok", true);
        return m;
    }

    /** A message body of SIZE random lowercase letters (the same for the same size). */
    static byte[] body(int size) {
        byte[] b = new byte[size];
        java.util.Random r = new java.util.Random(size);
        for (int i = 0; i < size; i++) b[i] = (byte) ('a' + r.nextInt(26));
        return b;
    }
}
