package rmq.bench;

import java.util.LinkedHashMap;
import java.util.Map;
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
 * Admin calls straight over the client's Netty remoting client: the nameserver's cluster info
 * and topic routes, the broker's runtime info, topic creation, and waiting for a broker to
 * register (the {@code watch} and {@code topic} commands and the load's preparation use them).
 */
final class Admin {
    private Admin() {}

    /** A started remoting client with the default config (shut it down when done). */
    static NettyRemotingClient remoting() {
        NettyClientConfig cfg = new NettyClientConfig();
        NettyRemotingClient c = new NettyRemotingClient(cfg);
        c.start();
        return c;
    }

    /** GET_BROKER_CLUSTER_INFO of the nameserver, or null when it does not answer with one. */
    static ClusterInfo clusterInfo(NettyRemotingClient c, String namesrv) throws Exception {
        RemotingCommand r = c.invokeSync(namesrv, RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, null), 1000);
        if (r.getCode() != ResponseCode.SUCCESS || r.getBody() == null) return null;
        return RemotingSerializable.decode(r.getBody(), ClusterInfo.class);
    }

    /** GET_ROUTEINFO_BY_TOPIC of the nameserver, or null when it has no route. */
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
            if (err != null) return Json.failed(m, err);
        }
        for (String topic : topics) {
            String err = awaitRoute(c, ns, topic, queues, deadline);
            if (err != null) return Json.failed(m, err);
        }
        m.put("ok", true);
        m.put("elapsedMs", System.currentTimeMillis() - t0);
        return m;
    }

    /** null once created, else the last error at the deadline. */
    static String createTopic(NettyRemotingClient c, String broker, String topic, int queues, long deadline) throws Exception {
        while (true) {
            String err;
            try {
                RemotingCommand r = c.invokeSync(broker,
                        RemotingCommand.createRequestCommand(RequestCode.UPDATE_AND_CREATE_TOPIC, topicHeader(topic, queues)), 5000);
                if (r.getCode() == ResponseCode.SUCCESS) return null;
                err = "create " + topic + ": code " + r.getCode() + " " + r.getRemark();
            } catch (Exception e) {
                err = "create " + topic + ": " + e;
            }
            if (System.currentTimeMillis() >= deadline) return err;
            Thread.sleep(200);
        }
    }

    /** The request header of a read-write topic of QUEUES read and write queues (TBW102 as the default topic). */
    static CreateTopicRequestHeader topicHeader(String topic, int queues) {
        CreateTopicRequestHeader h = new CreateTopicRequestHeader();
        h.setTopic(topic);
        h.setDefaultTopic("TBW102");
        h.setReadQueueNums(queues);
        h.setWriteQueueNums(queues);
        h.setPerm(6);
        h.setTopicFilterType("SINGLE_TAG");
        h.setTopicSysFlag(0);
        h.setOrder(false);
        return h;
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
}
