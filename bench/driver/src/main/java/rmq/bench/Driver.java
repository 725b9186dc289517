package rmq.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.ResponseCode;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.body.KVTable;
import org.apache.rocketmq.remoting.protocol.header.CreateTopicRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.QueueData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;

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
 * A plan is a comma list of phases: {@code sync:SIZE:THREADS}, {@code async:SIZE},
 * {@code openpct:SIZE:PCT} and {@code e2e:SIZE:RATE} (fixed-rate phases, see {@link Paced}),
 * {@code fill:SIZE:COUNT} (batch sends of COUNT messages to the backlog topic),
 * {@code consume} (push consumer drains what fill acknowledged) and
 * {@code scale:TOPICS:GROUPS:RATE} (see {@link Scale}). Every phase's line also says how
 * busy the machine was around it (see {@link Host}).
 */
public final class Driver {
    static final PrintStream OUT = System.out;

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: Driver net|watch|topic|load [--name value]...");
            System.exit(2);
        }
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            String k = argv[i];
            if (!k.startsWith("--")) die("unexpected argument " + k);
            int eq = k.indexOf('=');
            if (eq > 0) {
                a.put(k.substring(2, eq), k.substring(eq + 1));
            } else {
                if (i + 1 >= argv.length) die("missing value for " + k);
                a.put(k.substring(2), argv[++i]);
            }
        }
        int rc;
        try {
            switch (argv[0]) {
                case "net": rc = net(a); break;
                case "watch": rc = watch(a); break;
                case "topic": rc = topic(a); break;
                case "load": rc = new Load(a).run(); break;
                default: die("unknown command " + argv[0]); rc = 2;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", false);
            m.put("fatal", String.valueOf(t));
            emit(m);
            rc = 3;
        }
        OUT.flush();
        System.exit(rc);
    }

    static void die(String msg) {
        System.err.println("driver: " + msg);
        System.exit(2);
    }

    static String req(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) die("missing --" + k);
        return v;
    }

    static long num(Map<String, String> a, String k, long def) {
        String v = a.get(k);
        return v == null ? def : Long.parseLong(v);
    }

    // ------------------------------------------------------------------------------------------
    // JSON output (flat maps, nested maps, lists, numbers, strings, booleans)
    static synchronized void emit(Map<String, Object> m) {
        StringBuilder sb = new StringBuilder();
        json(sb, m);
        OUT.println(sb);
        OUT.flush();
    }

    @SuppressWarnings("unchecked")
    static void json(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                json(sb, e.getKey());
                sb.append(':');
                json(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object o : (List<Object>) v) {
                if (!first) sb.append(',');
                first = false;
                json(sb, o);
            }
            sb.append(']');
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) sb.append("null");
            else sb.append(String.format(java.util.Locale.ROOT, "%.3f", d));
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else {
            String s = v.toString();
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"': sb.append("\\\""); break;
                    case '\\': sb.append("\\\\"); break;
                    case '\n': sb.append("\\n"); break;
                    case '\r': sb.append("\\r"); break;
                    case '\t': sb.append("\\t"); break;
                    default:
                        if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                        else sb.append(c);
                }
            }
            sb.append('"');
        }
    }

    // ------------------------------------------------------------------------------------------
    // net: the loopback limits (one TCP stream with 1 MiB writes; 1-byte ping-pong)
    static int net(Map<String, String> a) throws Exception {
        long seconds = num(a, "seconds", 3);
        int rttCount = (int) num(a, "rtt-count", 20000);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", true);
        m.put("phase", "net");
        try (ServerSocketChannel ss = ServerSocketChannel.open()) {
            ss.bind(new InetSocketAddress("127.0.0.1", 0));
            int port = ((InetSocketAddress) ss.getLocalAddress()).getPort();
            // bandwidth
            AtomicLong received = new AtomicLong();
            Thread reader = new Thread(() -> {
                try (SocketChannel c = ss.accept()) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                    while (true) {
                        b.clear();
                        int n = c.read(b);
                        if (n < 0) break;
                        received.addAndGet(n);
                    }
                } catch (IOException e) {
                    // closed
                }
            });
            reader.start();
            SocketChannel w = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long t0 = System.nanoTime();
            long end = t0 + seconds * 1_000_000_000L;
            long r0 = 0;
            boolean warmed = false;
            long tw = t0;
            while (true) {
                long now = System.nanoTime();
                if (!warmed && now - t0 > 300_000_000L) {
                    warmed = true;
                    tw = now;
                    r0 = received.get();
                }
                if (now > end) break;
                buf.clear();
                while (buf.hasRemaining()) w.write(buf);
            }
            long bytes = received.get() - r0;
            double secs = (System.nanoTime() - tw) / 1e9;
            w.close();
            reader.join(5000);
            m.put("tcpMBps", bytes / secs / 1e6);
            m.put("tcpGbps", bytes * 8 / secs / 1e9);
            // round trip
            Thread echo = new Thread(() -> {
                try (SocketChannel c = ss.accept()) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    ByteBuffer b = ByteBuffer.allocateDirect(1);
                    while (true) {
                        b.clear();
                        if (c.read(b) < 0) break;
                        b.flip();
                        while (b.hasRemaining()) c.write(b);
                    }
                } catch (IOException e) {
                    // closed
                }
            });
            echo.start();
            SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ByteBuffer one = ByteBuffer.allocateDirect(1);
            Lat lat = new Lat();
            for (int i = 0; i < rttCount + 2000; i++) {
                one.clear();
                one.put((byte) 1);
                one.flip();
                long s = System.nanoTime();
                while (one.hasRemaining()) c.write(one);
                one.clear();
                while (one.position() < 1) {
                    if (c.read(one) < 0) throw new IOException("echo closed");
                }
                if (i >= 2000) lat.add(System.nanoTime() - s);
            }
            c.close();
            echo.join(5000);
            long[] s = lat.sorted();
            m.put("rttP50Us", pct(s, 0.50) / 1e3);
            m.put("rttP99Us", pct(s, 0.99) / 1e3);
        }
        emit(m);
        return 0;
    }

    // ------------------------------------------------------------------------------------------
    // remoting helpers (admin calls straight over the client's Netty remoting client)
    static NettyRemotingClient remoting() {
        NettyClientConfig cfg = new NettyClientConfig();
        NettyRemotingClient c = new NettyRemotingClient(cfg);
        c.start();
        return c;
    }

    static ClusterInfo clusterInfo(NettyRemotingClient c, String namesrv) throws Exception {
        RemotingCommand r = c.invokeSync(namesrv, RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, null), 1000);
        if (r.getCode() != ResponseCode.SUCCESS || r.getBody() == null) return null;
        return RemotingSerializable.decode(r.getBody(), ClusterInfo.class);
    }

    static TopicRouteData route(NettyRemotingClient c, String namesrv, String topic) throws Exception {
        GetRouteInfoRequestHeader h = new GetRouteInfoRequestHeader();
        h.setTopic(topic);
        RemotingCommand r = c.invokeSync(namesrv, RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, h), 1000);
        if (r.getCode() != ResponseCode.SUCCESS || r.getBody() == null) return null;
        return RemotingSerializable.decode(r.getBody(), TopicRouteData.class);
    }

    /** commitLogMaxOffset from GET_BROKER_RUNTIME_INFO, or -1 when the broker does not say. */
    static long commitLogMaxOffset(NettyRemotingClient c, String broker) {
        try {
            RemotingCommand r = c.invokeSync(broker, RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_RUNTIME_INFO, null), 2000);
            if (r.getCode() != ResponseCode.SUCCESS || r.getBody() == null) return -1;
            KVTable t = RemotingSerializable.decode(r.getBody(), KVTable.class);
            String v = t == null || t.getTable() == null ? null : t.getTable().get("commitLogMaxOffset");
            return v == null ? -1 : Long.parseLong(v.trim());
        } catch (Exception e) {
            return -1;
        }
    }

    static int watch(Map<String, String> a) throws Exception {
        NettyRemotingClient c = remoting();
        if (a.containsKey("ready-file")) Files.writeString(Path.of(a.get("ready-file")), "ready\n");
        Map<String, Object> m = watchRegistered(c, req(a, "namesrv"), req(a, "broker-name"), num(a, "timeout-ms", 120_000));
        emit(m);
        c.shutdown();
        return Boolean.TRUE.equals(m.get("ok")) ? 0 : 1;
    }

    /** Polls the nameserver's cluster info every 10 ms until the broker name shows up. */
    static Map<String, Object> watchRegistered(NettyRemotingClient c, String ns, String name, long timeout) throws Exception {
        long deadline = System.currentTimeMillis() + timeout;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("phase", "watch");
        String last = null;
        while (System.currentTimeMillis() < deadline) {
            try {
                ClusterInfo ci = clusterInfo(c, ns);
                BrokerData bd = ci == null || ci.getBrokerAddrTable() == null ? null : ci.getBrokerAddrTable().get(name);
                if (bd != null && bd.getBrokerAddrs() != null && !bd.getBrokerAddrs().isEmpty()) {
                    m.put("ok", true);
                    m.put("registeredAtMs", System.currentTimeMillis());
                    return m;
                }
            } catch (Exception e) {
                last = String.valueOf(e);
            }
            Thread.sleep(10);
        }
        m.put("ok", false);
        m.put("error", last == null ? "broker never registered" : last);
        return m;
    }

    static int topic(Map<String, String> a) throws Exception {
        NettyRemotingClient c = remoting();
        Map<String, Object> m = createTopics(c, req(a, "namesrv"), req(a, "broker"), req(a, "topics").split(","),
                (int) num(a, "queues", 8), num(a, "timeout-ms", 30_000));
        emit(m);
        c.shutdown();
        return Boolean.TRUE.equals(m.get("ok")) ? 0 : 1;
    }

    /**
     * UPDATE_AND_CREATE_TOPIC of every topic on the broker (each retried every 200 ms), then wait
     * until the nameserver's route of each shows the queues (all created first, so that the
     * broker's registrations of many topics overlap the waiting).
     */
    static Map<String, Object> createTopics(NettyRemotingClient c, String ns, String broker, String[] topics, int queues, long timeout)
            throws Exception {
        long t0 = System.currentTimeMillis();
        long deadline = t0 + timeout;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("phase", "topic");
        for (String topic : topics) {
            String err = createTopic(c, broker, topic, queues, deadline);
            if (err != null) return failed(m, err);
        }
        for (String topic : topics) {
            String err = awaitRoute(c, ns, topic, queues, deadline);
            if (err != null) return failed(m, err);
        }
        m.put("ok", true);
        m.put("elapsedMs", System.currentTimeMillis() - t0);
        return m;
    }

    static Map<String, Object> failed(Map<String, Object> m, String error) {
        m.put("ok", false);
        m.put("error", error);
        return m;
    }

    /** null once created, else the last error at the deadline. */
    static String createTopic(NettyRemotingClient c, String broker, String topic, int queues, long deadline) throws Exception {
        while (true) {
            CreateTopicRequestHeader h = new CreateTopicRequestHeader();
            h.setTopic(topic);
            h.setDefaultTopic("TBW102");
            h.setReadQueueNums(queues);
            h.setWriteQueueNums(queues);
            h.setPerm(6);
            h.setTopicFilterType("SINGLE_TAG");
            h.setTopicSysFlag(0);
            h.setOrder(false);
            String err;
            try {
                RemotingCommand r = c.invokeSync(broker, RemotingCommand.createRequestCommand(RequestCode.UPDATE_AND_CREATE_TOPIC, h), 5000);
                if (r.getCode() == ResponseCode.SUCCESS) return null;
                err = "create " + topic + ": code " + r.getCode() + " " + r.getRemark();
            } catch (Exception e) {
                err = "create " + topic + ": " + e;
            }
            if (System.currentTimeMillis() >= deadline) return err;
            Thread.sleep(200);
        }
    }

    /** null once the nameserver routes the topic with the queues, else why not at the deadline. */
    static String awaitRoute(NettyRemotingClient c, String ns, String topic, int queues, long deadline) throws Exception {
        String err = "route for " + topic + " never showed " + queues + " queues";
        while (true) {
            try {
                TopicRouteData rd = route(c, ns, topic);
                if (rd != null && rd.getQueueDatas() != null) {
                    for (QueueData q : rd.getQueueDatas()) {
                        if (q.getWriteQueueNums() == queues && q.getReadQueueNums() == queues) return null;
                    }
                }
            } catch (Exception e) {
                err = "route " + topic + ": " + e;
            }
            if (System.currentTimeMillis() >= deadline) return err;
            Thread.sleep(50);
        }
    }

    // ------------------------------------------------------------------------------------------
    /** Growable array of nanosecond latencies (one per thread, merged at the end). */
    static final class Lat {
        long[] a = new long[1 << 14];
        int n;

        void add(long v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }

        long[] sorted() {
            long[] s = java.util.Arrays.copyOf(a, n);
            java.util.Arrays.sort(s);
            return s;
        }

        static long[] merge(List<Lat> ls) {
            int total = 0;
            for (Lat l : ls) total += l.n;
            long[] s = new long[total];
            int p = 0;
            for (Lat l : ls) {
                System.arraycopy(l.a, 0, s, p, l.n);
                p += l.n;
            }
            java.util.Arrays.sort(s);
            return s;
        }
    }

    static long pct(long[] sorted, double q) {
        if (sorted.length == 0) return -1;
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    /** CPU and RSS of a process from /proc (the broker, and the driver itself). */
    static final class Proc {
        final String pid;
        final long clkTck;
        volatile long rssMaxKb;
        volatile long anonMaxKb;
        private Thread sampler;
        private volatile boolean sampling;

        Proc(String pid, long clkTck) {
            this.pid = pid;
            this.clkTck = clkTck;
        }

        /** utime + stime in seconds, or -1. */
        double cpuSeconds() {
            try {
                String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
                String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
                // fields after the comm: state(3) ... utime is field 14, stime 15 -> index 11, 12 here
                return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / (double) clkTck;
            } catch (Exception e) {
                return -1;
            }
        }

        long[] rss() {
            long rss = -1, anon = -1;
            try {
                for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                    if (line.startsWith("VmRSS:")) rss = kb(line);
                    else if (line.startsWith("RssAnon:")) anon = kb(line);
                }
            } catch (Exception e) {
                // gone
            }
            return new long[] {rss, anon};
        }

        static long kb(String line) {
            return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }

        void startSampling() {
            rssMaxKb = -1;
            anonMaxKb = -1;
            sampling = true;
            sampler = new Thread(() -> {
                while (sampling) {
                    long[] r = rss();
                    if (r[0] > rssMaxKb) rssMaxKb = r[0];
                    if (r[1] > anonMaxKb) anonMaxKb = r[1];
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "rss-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }

        void stopSampling() throws InterruptedException {
            sampling = false;
            if (sampler != null) sampler.join(1000);
            long[] r = rss();
            if (r[0] > rssMaxKb) rssMaxKb = r[0];
            if (r[1] > anonMaxKb) anonMaxKb = r[1];
        }
    }

    /**
     * How busy the machine was around one phase (the native driver's bench/native/src/host.rs
     * writes the same fields): /proc/loadavg before and after, and from /proc/stat's cpu line over
     * the phase the share of CPU time the hypervisor stole (stealPct), the CPU time of every
     * process (hostCpuPct, 100 % = one core) and what is left after the broker's and this driver's
     * own (othersCpuPct: other work on the machine, and kernel threads).
     */
    static final class Host {
        final long nanos = System.nanoTime();
        final double[] load = loadavg();
        final long[] cpu = procStat(); // busy, steal, total jiffies; null if unreadable
        final double broker, driver;

        Host(Proc brokerProc, Proc self) {
            broker = brokerProc == null ? -1 : brokerProc.cpuSeconds();
            driver = self.cpuSeconds();
        }

        static double[] loadavg() {
            try {
                String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
                return new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])};
            } catch (Exception e) {
                return null;
            }
        }

        static long[] procStat() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                    if (!line.startsWith("cpu ")) continue;
                    String[] f = line.trim().split("\\s+");
                    long[] v = new long[8]; // user nice system idle iowait irq softirq steal
                    for (int i = 0; i < 8 && i + 1 < f.length; i++) v[i] = Long.parseLong(f[i + 1]);
                    long total = 0;
                    for (long x : v) total += x;
                    return new long[] {v[0] + v[1] + v[2] + v[5] + v[6], v[7], total};
                }
            } catch (Exception e) {
                // not Linux, or unreadable: no host fields
            }
            return null;
        }

        static List<Object> list(double[] l) {
            List<Object> out = new ArrayList<>();
            for (double v : l) out.add(v);
            return out;
        }

        /** loadavgBefore/After, hostSecs, stealPct, hostCpuPct, othersCpuPct from this to after. */
        void writeUntil(Host after, long clkTck, Map<String, Object> m) {
            if (load != null) m.put("loadavgBefore", list(load));
            if (after.load != null) m.put("loadavgAfter", list(after.load));
            double secs = (after.nanos - nanos) / 1e9;
            m.put("hostSecs", secs);
            if (cpu == null || after.cpu == null) return;
            long total = after.cpu[2] - cpu[2];
            if (total > 0) m.put("stealPct", (after.cpu[1] - cpu[1]) * 100.0 / total);
            if (secs <= 0) return;
            double host = (after.cpu[0] - cpu[0]) / (double) Math.max(1, clkTck) / secs * 100;
            m.put("hostCpuPct", host);
            if (broker >= 0 && after.broker >= 0 && driver >= 0 && after.driver >= 0) {
                double own = ((after.broker - broker) + (after.driver - driver)) / secs * 100;
                m.put("othersCpuPct", Math.max(0, host - own)); // jiffy rounding can dip below 0
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    static final class Load {
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
        long filled = -1;
        int fillSize = 0;

        Load(Map<String, String> a) {
            this.a = a;
            ns = req(a, "namesrv");
            broker = req(a, "broker");
            topic = req(a, "topic");
            backlogTopic = a.getOrDefault("backlog-topic", topic + "Backlog");
            warmupMs = num(a, "warmup-ms", 2000);
            measureMs = num(a, "measure-ms", 10_000);
            initialWarmupMs = num(a, "initial-warmup-ms", 3000);
            phaseTimeoutMs = num(a, "phase-timeout-ms", 60_000);
            inflight = (int) num(a, "inflight", 512);
            queues = (int) num(a, "queues", 8);
            settleMs = num(a, "settle-ms", 30_000);
            e2eTopic = a.getOrDefault("e2e-topic", topic + "E2e");
            clkTck = num(a, "clk-tck", 100);
            brokerProc = a.containsKey("broker-pid") ? new Proc(a.get("broker-pid"), clkTck) : null;
            self = new Proc("self", clkTck);
        }

        int run() throws Exception {
            admin = remoting();
            if (!prepare()) {
                admin.shutdown();
                return 1;
            }
            producer = new DefaultMQProducer("bench_producer");
            producer.setNamesrvAddr(ns);
            producer.setInstanceName("bench-p-" + ProcessHandle.current().pid());
            producer.setVipChannelEnabled(false);
            producer.setSendMsgTimeout(3000);
            producer.start();
            int failures = 0;
            String[] plan = req(a, "plan").split(",");
            if (initialWarmupMs > 0) {
                // not reported: JIT warm-up of the driver (and the broker), route lookup, page cache
                sync(128, 16, initialWarmupMs, 0, false);
            }
            for (String p : plan) {
                String[] f = p.trim().split(":");
                Map<String, Object> r;
                Host before = new Host(brokerProc, self);
                switch (f[0]) {
                    case "sync": r = sync(Integer.parseInt(f[1]), Integer.parseInt(f[2]), warmupMs, measureMs, true); break;
                    case "async": r = async(Integer.parseInt(f[1]), warmupMs, measureMs); break;
                    case "openpct": r = Paced.openPct(this, Integer.parseInt(f[1]), Double.parseDouble(f[2])); break;
                    case "e2e": r = Paced.e2e(this, Integer.parseInt(f[1]), Double.parseDouble(f[2])); break;
                    case "fill": r = fill(Integer.parseInt(f[1]), Long.parseLong(f[2])); break;
                    case "consume": r = consume(); break;
                    case "scale": r = Scale.run(this, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Double.parseDouble(f[3])); break;
                    default: die("unknown phase " + p); return 2;
                }
                notePeak(p.trim(), f, r);
                before.writeUntil(new Host(brokerProc, self), clkTck, r);
                if (!Boolean.TRUE.equals(r.get("ok"))) failures++;
                emit(r);
            }
            producer.shutdown();
            admin.shutdown();
            return failures == 0 ? 0 : 1;
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
         */
        boolean prepare() throws Exception {
            if (a.containsKey("watch-broker-name")) {
                if (a.containsKey("ready-file")) Files.writeString(Path.of(a.get("ready-file")), "ready\n");
                Map<String, Object> w = watchRegistered(admin, ns, a.get("watch-broker-name"), num(a, "watch-timeout-ms", 120_000));
                emit(w);
                if (!Boolean.TRUE.equals(w.get("ok"))) return false;
            }
            if (a.containsKey("broker-pid-file")) {
                Path f = Path.of(a.get("broker-pid-file"));
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
            if (a.containsKey("create-topics")) {
                Map<String, Object> t = createTopics(admin, ns, broker, a.get("create-topics").split(","), queues,
                        num(a, "topic-timeout-ms", 40_000));
                emit(t);
                if (!Boolean.TRUE.equals(t.get("ok"))) return false;
            }
            if (a.containsKey("idle-ms") && brokerProc != null) {
                double c0 = brokerProc.cpuSeconds();
                long idle = num(a, "idle-ms", 1000);
                Thread.sleep(idle);
                long[] r = brokerProc.rss();
                Map<String, Object> m = base("idle");
                m.put("brokerRssKb", r[0]);
                m.put("brokerRssAnonKb", r[1]);
                m.put("brokerCpuPct", (brokerProc.cpuSeconds() - c0) / (idle / 1000.0) * 100);
                emit(m);
            }
            return true;
        }

        Map<String, Object> base(String phase) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", phase);
            m.put("ok", true);
            return m;
        }

        /** Window bookkeeping shared by the send phases. */
        final class Window {
            volatile long start, end; // nanoTime
            double cpu0, selfCpu0;
            long off0;
            final AtomicLong errors = new AtomicLong();
            final Map<String, AtomicLong> errorKinds = new ConcurrentHashMap<>();

            void open(long startNanos, long endNanos) {
                start = startNanos;
                end = endNanos;
            }

            void error(Throwable t) {
                errors.incrementAndGet();
                String k = t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage()).split("\n")[0];
                if (k.length() > 160) k = k.substring(0, 160);
                if (errorKinds.size() < 8 || errorKinds.containsKey(k)) errorKinds.computeIfAbsent(k, x -> new AtomicLong()).incrementAndGet();
            }

            void begin() {
                cpu0 = brokerProc == null ? -1 : brokerProc.cpuSeconds();
                selfCpu0 = self.cpuSeconds();
                off0 = commitLogMaxOffset(admin, broker);
                if (brokerProc != null) brokerProc.startSampling();
            }

            void finish(Map<String, Object> m, long msgs, int size, double secs, long[] lat) throws InterruptedException {
                long off1 = commitLogMaxOffset(admin, broker);
                double cpu1 = brokerProc == null ? -1 : brokerProc.cpuSeconds();
                double selfCpu1 = self.cpuSeconds();
                if (brokerProc != null) brokerProc.stopSampling();
                m.put("msgs", msgs);
                m.put("seconds", secs);
                m.put("tps", msgs / secs);
                m.put("mbps", msgs * (double) size / secs / 1e6);
                if (lat != null) {
                    m.put("p50Ms", pct(lat, 0.50) / 1e6);
                    m.put("p99Ms", pct(lat, 0.99) / 1e6);
                    m.put("p999Ms", pct(lat, 0.999) / 1e6);
                    m.put("maxMs", lat.length == 0 ? -1 : lat[lat.length - 1] / 1e6);
                }
                if (off0 >= 0 && off1 >= off0) {
                    m.put("appendBytes", off1 - off0);
                    m.put("appendMBps", (off1 - off0) / secs / 1e6);
                }
                if (brokerProc != null && cpu0 >= 0 && cpu1 >= 0) {
                    m.put("brokerCpuPct", (cpu1 - cpu0) / secs * 100);
                    if (msgs > 0) m.put("brokerCpuUsPerMsg", (cpu1 - cpu0) / msgs * 1e6);
                    m.put("brokerRssMaxKb", brokerProc.rssMaxKb);
                    m.put("brokerRssAnonMaxKb", brokerProc.anonMaxKb);
                }
                if (selfCpu0 >= 0 && selfCpu1 >= 0) m.put("driverCpuPct", (selfCpu1 - selfCpu0) / secs * 100);
                m.put("errors", errors.get());
                List<Object> kinds = new ArrayList<>();
                errorKinds.forEach((k, v) -> {
                    Map<String, Object> e = new LinkedHashMap<>();
                    e.put("message", k);
                    e.put("count", v.get());
                    kinds.add(e);
                });
                m.put("errorKinds", kinds);
                if (msgs == 0 || errors.get() > msgs / 100) m.put("ok", false);
            }
        }

        static byte[] body(int size) {
            byte[] b = new byte[size];
            java.util.Random r = new java.util.Random(size);
            for (int i = 0; i < size; i++) b[i] = (byte) ('a' + r.nextInt(26));
            return b;
        }

        Map<String, Object> sync(int size, int threads, long warm, long measure, boolean report) throws Exception {
            Map<String, Object> m = base("sync");
            m.put("size", size);
            m.put("threads", threads);
            byte[] body = body(size);
            Window w = new Window();
            long t0 = System.nanoTime();
            w.open(t0 + warm * 1_000_000L, t0 + (warm + measure) * 1_000_000L);
            List<Lat> lats = new CopyOnWriteArrayList<>();
            AtomicLong inWindow = new AtomicLong();
            List<Thread> ts = new ArrayList<>();
            final long stopAt = w.end;
            for (int i = 0; i < threads; i++) {
                Thread t = new Thread(() -> {
                    Lat lat = new Lat();
                    lats.add(lat);
                    long n = 0;
                    while (true) {
                        long s = System.nanoTime();
                        if (s >= stopAt) break;
                        boolean ok = false;
                        try {
                            SendResult r = producer.send(new Message(topic, body));
                            ok = r.getSendStatus() == SendStatus.SEND_OK;
                            if (!ok) w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                        } catch (Throwable e) {
                            w.error(e);
                        }
                        long e = System.nanoTime();
                        if (ok && s >= w.start && e <= w.end) {
                            lat.add(e - s);
                            n++;
                        }
                    }
                    inWindow.addAndGet(n);
                }, "sync-" + i);
                t.start();
                ts.add(t);
            }
            long sleepTo = w.start - System.nanoTime();
            if (sleepTo > 0) TimeUnit.NANOSECONDS.sleep(sleepTo);
            if (report) w.begin();
            for (Thread t : ts) t.join(measure + warm + 30_000);
            if (!report) return m;
            w.finish(m, inWindow.get(), size, (w.end - w.start) / 1e9, Lat.merge(lats));
            return m;
        }

        Map<String, Object> async(int size, long warm, long measure) throws Exception {
            Map<String, Object> m = base("async");
            m.put("size", size);
            m.put("inflight", inflight);
            byte[] body = body(size);
            Window w = new Window();
            long t0 = System.nanoTime();
            w.open(t0 + warm * 1_000_000L, t0 + (warm + measure) * 1_000_000L);
            Semaphore permits = new Semaphore(inflight);
            AtomicLong inWindow = new AtomicLong();
            ConcurrentHashMap<Thread, Lat> lats = new ConcurrentHashMap<>();
            boolean begun = false;
            while (true) {
                long s = System.nanoTime();
                if (s >= w.end) break;
                if (!begun && s >= w.start) {
                    w.begin();
                    begun = true;
                }
                if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) continue;
                try {
                    producer.send(new Message(topic, body), new SendCallback() {
                        @Override
                        public void onSuccess(SendResult r) {
                            long e = System.nanoTime();
                            if (r.getSendStatus() != SendStatus.SEND_OK) {
                                w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                            } else if (s >= w.start && e <= w.end) {
                                Lat l = lats.computeIfAbsent(Thread.currentThread(), x -> new Lat());
                                synchronized (l) {
                                    l.add(e - s);
                                }
                                inWindow.incrementAndGet();
                            }
                            permits.release();
                        }

                        @Override
                        public void onException(Throwable t) {
                            w.error(t);
                            permits.release();
                        }
                    }, 3000);
                } catch (Throwable t) {
                    permits.release();
                    w.error(t);
                }
            }
            if (!begun) w.begin();
            permits.tryAcquire(inflight, 10, TimeUnit.SECONDS);
            List<Lat> ls = new ArrayList<>(lats.values());
            w.finish(m, inWindow.get(), size, (w.end - w.start) / 1e9, Lat.merge(ls));
            return m;
        }

        /**
         * Fills the backlog topic with exactly COUNT messages (bounded by the phase timeout): sync
         * batch sends (SEND_BATCH_MESSAGE) of 64 messages from 4 threads, so that the fill is
         * quick on every broker; the per-message send paths are measured by the other phases.
         */
        Map<String, Object> fill(int size, long count) throws Exception {
            Map<String, Object> m = base("fill");
            m.put("size", size);
            m.put("requested", count);
            m.put("batch", 64);
            byte[] body = body(size);
            Window w = new Window();
            AtomicLong next = new AtomicLong();
            AtomicLong acked = new AtomicLong();
            long t0 = System.nanoTime();
            long deadline = t0 + phaseTimeoutMs * 1_000_000L;
            w.open(t0, deadline);
            w.begin();
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    while (System.nanoTime() < deadline) {
                        long from = next.getAndAdd(64);
                        if (from >= count) return;
                        int n = (int) Math.min(64, count - from);
                        List<Message> batch = new ArrayList<>(n);
                        for (int j = 0; j < n; j++) batch.add(new Message(backlogTopic, body));
                        boolean sent = false;
                        for (int attempt = 0; attempt < 3 && !sent && System.nanoTime() < deadline; attempt++) {
                            try {
                                SendResult r = producer.send(batch);
                                if (r.getSendStatus() == SendStatus.SEND_OK) {
                                    acked.addAndGet(n);
                                    sent = true;
                                } else {
                                    w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                                }
                            } catch (Throwable e) {
                                w.error(e);
                            }
                        }
                    }
                }, "fill-" + i);
                t.start();
                ts.add(t);
            }
            for (Thread t : ts) t.join(phaseTimeoutMs + 30_000);
            boolean timedOut = acked.get() < count;
            double secs = (System.nanoTime() - t0) / 1e9;
            w.finish(m, acked.get(), size, secs, null);
            m.put("timedOut", timedOut);
            if (timedOut) m.put("ok", false);
            filled = acked.get();
            fillSize = size;
            return m;
        }

        /** Push consumer (CLUSTERING, from the first offset, 20 threads like the official benchmark) drains the backlog. */
        Map<String, Object> consume() throws Exception {
            Map<String, Object> m = base("consume");
            long expect = filled;
            m.put("expect", expect);
            if (expect <= 0) {
                m.put("ok", false);
                m.put("error", "nothing was filled");
                return m;
            }
            AtomicLong got = new AtomicLong();
            AtomicLong bytes = new AtomicLong();
            AtomicLong firstNs = new AtomicLong();
            AtomicLong doneNs = new AtomicLong();
            CountDownLatch done = new CountDownLatch(1);
            DefaultMQPushConsumer c = new DefaultMQPushConsumer("bench_consumer_" + System.currentTimeMillis());
            c.setNamesrvAddr(ns);
            c.setInstanceName("bench-c-" + ProcessHandle.current().pid());
            c.setVipChannelEnabled(false);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            c.setConsumeThreadMin(20);
            c.setConsumeThreadMax(20);
            c.subscribe(backlogTopic, "*");
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                long now = System.nanoTime();
                firstNs.compareAndSet(0, now);
                long b = 0;
                for (MessageExt x : msgs) b += x.getBody() == null ? 0 : x.getBody().length;
                bytes.addAndGet(b);
                if (got.addAndGet(msgs.size()) >= expect && doneNs.compareAndSet(0, now)) done.countDown();
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            Window w = new Window();
            long t0 = System.nanoTime();
            w.open(t0, t0 + phaseTimeoutMs * 1_000_000L);
            w.begin();
            c.start();
            boolean finished = done.await(phaseTimeoutMs, TimeUnit.MILLISECONDS);
            long t1 = finished ? doneNs.get() : System.nanoTime();
            long first = firstNs.get();
            double secs = first == 0 ? (t1 - t0) / 1e9 : Math.max(1e-3, (t1 - first) / 1e9);
            w.finish(m, got.get(), fillSize, secs, null);
            m.put("firstMsgMs", first == 0 ? -1 : (first - t0) / 1_000_000);
            m.put("totalMs", (t1 - t0) / 1_000_000);
            m.put("bytes", bytes.get());
            m.put("timedOut", !finished);
            if (!finished) m.put("ok", false);
            c.shutdown();
            return m;
        }
    }
}
