package rmq.aclvectors;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.AclUtils;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;

/**
 * Signs a fixed set of requests with the real AclClientRPCHook and prints one JSON document:
 * per case the inputs, the ext fields after the hook ran, the signed content and the signature.
 * Everything is deterministic (no clock, no randomness), so the output can be committed.
 */
public final class Main {
    /** One request to sign. */
    record Case(String name, int code, String accessKey, String secretKey, String token,
                Map<String, String> fields, byte[] body) { }

    public static void main(String[] args) {
        List<String> out = new ArrayList<>();
        for (Case c : cases()) {
            out.add(sign(c));
        }
        System.out.println("{\n\"generator\": " + str(generator()) + ",\n\"vectors\": [\n"
            + String.join(",\n", out) + "\n]\n}");
    }

    private static String generator() {
        Package p = AclClientRPCHook.class.getPackage();
        String v = p.getImplementationVersion();
        return "AclClientRPCHook from " + (v == null ? "unknown version" : "rocketmq " + v);
    }

    private static String sign(Case c) {
        RemotingCommand request = RemotingCommand.createRequestCommand(c.code, null);
        for (Map.Entry<String, String> e : c.fields.entrySet()) {
            request.addExtField(e.getKey(), e.getValue());
        }
        if (c.body != null) {
            request.setBody(c.body);
        }
        SessionCredentials creds = c.token == null
            ? new SessionCredentials(c.accessKey, c.secretKey)
            : new SessionCredentials(c.accessKey, c.secretKey, c.token);
        new AclClientRPCHook(creds).doBeforeRequest("127.0.0.1:10911", request);

        // the content exactly as the server rebuilds it: every field but Signature, sorted
        TreeMap<String, String> sorted = new TreeMap<>(request.getExtFields());
        sorted.remove(SessionCredentials.SIGNATURE);
        byte[] content = AclUtils.combineRequestContent(request, sorted);

        StringBuilder sb = new StringBuilder("  {");
        sb.append("\"name\": ").append(str(c.name));
        sb.append(", \"code\": ").append(c.code);
        sb.append(", \"access_key\": ").append(str(c.accessKey));
        sb.append(", \"secret_key\": ").append(str(c.secretKey));
        sb.append(", \"security_token\": ").append(c.token == null ? "null" : str(c.token));
        sb.append(",\n   \"fields_in\": ").append(pairs(c.fields));
        sb.append(",\n   \"body_b64\": ").append(c.body == null ? "null" : str(b64(c.body)));
        // sorted: the map is a HashMap whose iteration order differs between versions
        sb.append(",\n   \"fields_out\": ").append(pairs(new TreeMap<>(request.getExtFields())));
        sb.append(",\n   \"content_b64\": ").append(str(b64(content)));
        sb.append(",\n   \"signature\": ").append(str(request.getExtFields().get(SessionCredentials.SIGNATURE)));
        return sb.append("}").toString();
    }

    private static List<Case> cases() {
        List<Case> cs = new ArrayList<>();
        Map<String, String> send = new LinkedHashMap<>();
        send.put("a", "please_rename_unique_group_name");
        send.put("b", "TopicTest");
        send.put("c", "TBW102");
        send.put("d", "4");
        send.put("e", "3");
        send.put("f", "0");
        send.put("g", "1700000000000");
        send.put("h", "0");
        send.put("i", "UNIQ_KEY\u0001C0A80001000018B4AAC2\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002");
        send.put("j", "0");
        send.put("k", "false");
        send.put("m", "false");
        cs.add(new Case("send_v2_with_body", 310, "RocketMQ", "12345678", null, send,
            "Hello RocketMQ 0".getBytes(StandardCharsets.UTF_8)));

        Map<String, String> pull = new LinkedHashMap<>();
        pull.put("consumerGroup", "cg-orders");
        pull.put("topic", "orders");
        pull.put("queueId", "1");
        pull.put("queueOffset", "42");
        pull.put("maxMsgNums", "32");
        pull.put("sysFlag", "3");
        pull.put("commitOffset", "40");
        pull.put("suspendTimeoutMillis", "15000");
        pull.put("subscription", "*");
        pull.put("subVersion", "1700000000123");
        pull.put("expressionType", "TAG");
        cs.add(new Case("pull_no_body", 11, "consumer-ak", "consumer-secret", null, pull, null));

        Map<String, String> uni = new LinkedHashMap<>();
        uni.put("topic", "\u4e3b\u9898-\u0442\u0435\u043c\u0430");
        uni.put("producerGroup", "gr\u00fcppe");
        cs.add(new Case("unicode_everywhere", 10, "cl\u00e9-\u043a\u043b\u044e\u0447",
            "s\u00e9cret-\u043a\u043b\u044e\u0447-\uD83D\uDD11", null, uni,
            "h\u00e9llo \uD83C\uDF0D".getBytes(StandardCharsets.UTF_8)));

        cs.add(new Case("no_fields_json_body", 34, "heartbeat-ak", "heartbeat-sk", null, new LinkedHashMap<>(),
            "{\"clientID\":\"10.0.0.1@1\",\"consumerDataSet\":[],\"producerDataSet\":[]}".getBytes(StandardCharsets.UTF_8)));

        Map<String, String> empty = new LinkedHashMap<>();
        empty.put("topic", "");
        empty.put("keys", "");
        empty.put("zzz", "last");
        cs.add(new Case("empty_values", 12, "emptyvals", "emptyvals-sk", null, empty, null));

        cs.add(new Case("empty_body_array", 10, "emptybody", "emptybody-sk", null, mapOf("topic", "t1"), new byte[0]));

        cs.add(new Case("security_token", 10, "tokenized", "tokenized-sk", "sts-token-\u00e9", mapOf("topic", "t2"),
            "x".getBytes(StandardCharsets.UTF_8)));

        Map<String, String> order = new LinkedHashMap<>();
        order.put("\uFFFD", "replacement");
        order.put("\uD83D\uDE00", "smile");
        order.put("\uE000", "private-use");
        order.put("Zeta", "Z");
        order.put("alpha", "a");
        order.put("_under", "_");
        order.put("10", "ten");
        order.put("9", "nine");
        cs.add(new Case("utf16_key_order", 999, "orderkeys", "orderkeys-sk", null, order, null));

        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        cs.add(new Case("binary_body", 320, "binarybody", "binarybody-sk", null, mapOf("b", "batch-topic"), binary));

        Map<String, String> stale = new LinkedHashMap<>();
        stale.put("topic", "resent");
        stale.put("Signature", "stale-signature-from-a-previous-attempt");
        cs.add(new Case("stale_signature_field", 10, "staleSig", "staleSig-sk", null, stale, null));

        Map<String, String> esc = new LinkedHashMap<>();
        esc.put("quote", "say \"hi\"\\ \t tab\nnewline\u0000nul");
        cs.add(new Case("control_chars", 10, "ctrlchars", "ctrlchars-sk", null, esc, null));

        // An empty secret key is not a case: javax.crypto refuses an empty HMAC key ("Empty key").
        return cs;
    }

    private static Map<String, String> mapOf(String k, String v) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(k, v);
        return m;
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    /** A JSON array of [key, value] pairs, in the map's own iteration order. */
    private static String pairs(Map<String, String> m) {
        List<String> items = new ArrayList<>();
        for (Map.Entry<String, String> e : m.entrySet()) {
            items.add("[" + str(e.getKey()) + ", " + str(e.getValue()) + "]");
        }
        return "[" + String.join(", ", items) + "]";
    }

    /** A JSON string; everything outside printable ASCII as \\u escapes (UTF-16 units). */
    private static String str(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '"' || ch == '\\') {
                sb.append('\\').append(ch);
            } else if (ch < 0x20 || ch > 0x7e) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }
}
