package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

type consumeOpts struct {
	common
	expect, lingerMs, shards, reconsumeLater, retryDelayLevel, maxReconsume, threads, pullBatch int64
	tag, sql, from                                                                              string
	broadcast, orderly                                                                          bool
}

// recorder: what a consumer saw (same fields as the Java harness).
type recorder struct {
	mu                                                    sync.Mutex
	c                                                     *runCtx
	prefix                                                string
	shards                                                int64
	consumed, seen                                        *indexSet
	received, foreign, corrupt, rejected, orderViolations int64
	minAge, maxAge, firstAt                               int64
	tags, queues, reconsume                               map[string]int64
	shardMax                                              map[int64]int64
}

func newRecorder(c *runCtx, prefix string, shards int64) *recorder {
	return &recorder{c: c, prefix: prefix, shards: shards, consumed: newIndexSet(), seen: newIndexSet(),
		minAge: 1 << 62, maxAge: -(1 << 62), firstAt: -1,
		tags: map[string]int64{}, queues: map[string]int64{}, reconsume: map[string]int64{}, shardMax: map[int64]int64{}}
}

func (r *recorder) deliver(m *primitive.MessageExt, accept bool) {
	now := time.Now().UnixMilli()
	idx, corrupt := parseBody(m.Body, r.prefix)
	tag := m.GetTags()
	bn, qid := "", -1
	if m.Queue != nil {
		bn, qid = m.Queue.BrokerName, m.Queue.QueueId
	}
	r.mu.Lock()
	r.received++
	if r.firstAt < 0 {
		r.firstAt = r.c.elapsed()
	}
	r.tags[tag]++
	r.queues[fmt.Sprintf("%s/%d", bn, qid)]++
	r.reconsume[strconv.Itoa(int(m.ReconsumeTimes))]++
	age := now - m.BornTimestamp
	if age < r.minAge {
		r.minAge = age
	}
	if age > r.maxAge {
		r.maxAge = age
	}
	if !accept {
		r.rejected++
	}
	if idx < 0 {
		r.foreign++
	} else {
		if corrupt {
			r.corrupt++
		}
		if r.shards > 0 && !r.seen.contains(idx) {
			s := idx % r.shards
			if mx, ok := r.shardMax[s]; ok && idx < mx {
				r.orderViolations++
			}
			if mx, ok := r.shardMax[s]; !ok || idx > mx {
				r.shardMax[s] = idx
			}
		}
		r.seen.add(idx)
		if accept && !corrupt {
			r.consumed.add(idx)
		}
	}
	r.mu.Unlock()
	res := "ok"
	if !accept {
		res = "later"
	}
	r.c.record("%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s", idx, m.MsgId, m.OffsetMsgId, bn, qid, m.QueueOffset,
		m.ReconsumeTimes, tag, m.GetKeys(), res, m.Topic)
}

func (r *recorder) distinct() int64 { return int64(r.consumed.size()) }

func (r *recorder) report(j *obj, start, expect int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	missing := ""
	if expect > 0 {
		missing = r.consumed.missingIn(start, start+expect)
	}
	minAge, maxAge := r.minAge, r.maxAge
	if r.received == 0 {
		minAge, maxAge = -1, -1
	}
	j.put("received", r.received).put("distinct", r.consumed.size()).
		put("duplicates", r.received-r.rejected-r.foreign-int64(r.consumed.size())).
		put("ranges", r.consumed.ranges()).put("missing", missing).put("foreign", r.foreign).put("corrupt", r.corrupt).
		put("rejected", r.rejected).put("tags", r.tags).put("queues", r.queues).put("reconsumeTimes", r.reconsume).
		put("minAgeMs", minAge).put("maxAgeMs", maxAge).put("firstAtMs", r.firstAt)
	if r.shards > 0 {
		j.put("orderViolations", r.orderViolations)
	}
}

func runConsume(c *runCtx, args []string, pull bool) error {
	name := "consume"
	if pull {
		name = "pull"
	}
	o := &consumeOpts{}
	f := newFlags(name)
	o.register(f, "", 60_000)
	f.fs.Int64Var(&o.expect, "expect", -1, "")
	f.fs.StringVar(&o.tag, "tag", "*", "")
	f.fs.StringVar(&o.sql, "sql", "", "")
	f.fs.StringVar(&o.from, "from", "first", "")
	f.fs.Int64Var(&o.lingerMs, "linger-ms", 0, "")
	f.fs.Int64Var(&o.shards, "shards", 0, "")
	f.fs.BoolVar(&o.broadcast, "broadcast", false, "")
	f.fs.Int64Var(&o.pullBatch, "pull-batch", 0, "")
	if !pull {
		f.fs.BoolVar(&o.orderly, "orderly", false, "")
		f.fs.Int64Var(&o.reconsumeLater, "reconsume-later", 0, "")
		f.fs.Int64Var(&o.retryDelayLevel, "retry-delay-level", 0, "")
		f.fs.Int64Var(&o.maxReconsume, "max-reconsume-times", -2, "")
		f.fs.Int64Var(&o.threads, "consume-threads", 0, "")
	}
	if err := f.parse(args); err != nil {
		return err
	}
	if o.expect < 0 {
		return usageError{"missing required option --expect"}
	}
	for _, chk := range []error{
		checkRange("expect", o.expect, 0, 50_000_000), checkRange("linger-ms", o.lingerMs, 0, 600_000),
		checkRange("shards", o.shards, 0, 1_000_000), checkRange("pull-batch", o.pullBatch, 0, 1024),
		checkRange("reconsume-later", o.reconsumeLater, 0, 1<<31-1), checkRange("retry-delay-level", o.retryDelayLevel, -1, 64),
		checkRange("max-reconsume-times", o.maxReconsume, -2, 10_000), checkRange("consume-threads", o.threads, 0, 1000),
	} {
		if chk != nil {
			return chk
		}
	}
	if f.has("tag") && f.has("sql") {
		return usageError{"--tag and --sql are exclusive"}
	}
	if err := o.validate(); err != nil {
		return err
	}
	opts := []consumer.Option{
		consumer.WithNameServer([]string{o.namesrv}),
		consumer.WithGroupName(o.group),
		consumer.WithConsumerModel(consumer.Clustering),
	}
	if o.broadcast {
		opts[2] = consumer.WithConsumerModel(consumer.BroadCasting)
	}
	switch {
	case o.from == "first":
		opts = append(opts, consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	case o.from == "last":
		opts = append(opts, consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	case strings.HasPrefix(o.from, "timestamp:"):
		ms, err := strconv.ParseInt(strings.TrimPrefix(o.from, "timestamp:"), 10, 64)
		if err != nil {
			return usageError{"--from timestamp:<epoch-ms> wants a number"}
		}
		opts = append(opts, consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
			consumer.WithConsumeTimestamp(time.UnixMilli(ms).Format("20060102150405")))
	default:
		return usageError{"--from must be first|last|timestamp:<epoch-ms>"}
	}
	if creds := o.credentials(); creds != nil {
		opts = append(opts, consumer.WithCredentials(*creds))
	}
	if o.instance != "" {
		opts = append(opts, consumer.WithInstance(o.instance))
	}
	if o.pullBatch > 0 {
		opts = append(opts, consumer.WithPullBatchSize(int32(o.pullBatch)))
	}
	if o.maxReconsume != -2 {
		opts = append(opts, consumer.WithMaxReconsumeTimes(int32(o.maxReconsume)))
	}
	if o.threads > 0 {
		opts = append(opts, consumer.WithConsumeGoroutineNums(int(o.threads)))
	}
	if o.orderly {
		opts = append(opts, consumer.WithConsumerOrder(true), consumer.WithSuspendCurrentQueueTimeMillis(200*time.Millisecond))
	}
	sel := consumer.MessageSelector{Type: consumer.TAG, Expression: o.tag}
	if o.sql != "" {
		sel = consumer.MessageSelector{Type: consumer.SQL92, Expression: o.sql}
	}
	if err := c.openRecords(o.out); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(o.timeoutMs) * time.Millisecond)
	r := newRecorder(c, o.prefix, o.shards)
	timedOut := true
	if pull {
		var pc rocketmq.PullConsumer
		err := startWithRetry(o, deadline, func(extra []consumer.Option) error {
			var err error
			if pc, err = rocketmq.NewPullConsumer(append(opts, extra...)...); err != nil {
				return err
			}
			if err := pc.Subscribe(o.topic, sel); err != nil {
				return err
			}
			return pc.Start()
		})
		if err != nil {
			return err
		}
		for time.Now().Before(deadline) {
			wait := time.Until(deadline)
			if wait > 200*time.Millisecond {
				wait = 200 * time.Millisecond
			}
			cr, err := pc.Poll(context.Background(), wait)
			if err == nil && cr != nil {
				for _, m := range cr.GetMsgList() {
					r.deliver(m, true)
				}
				pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
			} else if err != nil && !consumer.IsNoNewMsgError(err) {
				c.error(err)
			}
			if o.expect > 0 && r.distinct() >= o.expect {
				timedOut = false
				break
			}
		}
		if o.expect == 0 {
			timedOut = false
		}
		if err := pc.PersistOffset(context.Background(), o.topic); err != nil {
			c.error(err)
		}
		pc.Shutdown()
	} else {
		later := int32(o.reconsumeLater)
		listener := func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			allOK := true
			for _, m := range msgs {
				accept := m.ReconsumeTimes >= later
				r.deliver(m, accept)
				allOK = allOK && accept
			}
			if allOK {
				return consumer.ConsumeSuccess, nil
			}
			if o.orderly {
				return consumer.SuspendCurrentQueueAMoment, nil
			}
			if o.retryDelayLevel != 0 {
				if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
					cc.DelayLevelWhenNextConsume = int(o.retryDelayLevel)
				}
			}
			return consumer.ConsumeRetryLater, nil
		}
		var pc rocketmq.PushConsumer
		err := startWithRetry(o, deadline, func(extra []consumer.Option) error {
			var err error
			if pc, err = rocketmq.NewPushConsumer(append(opts, extra...)...); err != nil {
				return err
			}
			if err := pc.Subscribe(o.topic, sel, listener); err != nil {
				return err
			}
			return pc.Start()
		})
		if err != nil {
			return err
		}
		for time.Now().Before(deadline) {
			if o.expect > 0 && r.distinct() >= o.expect {
				timedOut = false
				if o.lingerMs > 0 {
					l := time.Duration(o.lingerMs) * time.Millisecond
					if u := time.Until(deadline); u < l {
						l = u
					}
					time.Sleep(l)
				}
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if o.expect == 0 || r.distinct() >= o.expect {
			timedOut = false
		}
		pc.Shutdown() // persists consumed offsets to the broker
	}
	c.closeRecords()
	ok := r.distinct() >= o.expect && r.corrupt == 0 && (o.shards == 0 || r.orderViolations == 0)
	j := result(name, ok).put("topic", o.topic).put("group", o.group).put("prefix", o.prefix).put("start", o.start).
		put("expect", o.expect).put("timedOut", timedOut)
	if !pull {
		j.put("mode", newObj().put("orderly", o.orderly).put("broadcast", o.broadcast))
	}
	r.report(j, o.start, o.expect)
	c.emit(j)
	return okOrNot(ok)
}

// startWithRetry: the Go consumers refuse to start (and shut themselves down) while the topic has no
// route yet ("route info not found"). Tests may start a consumer before the first send, so retry
// with a fresh client (new instance name, since the old client instance is shut down) until the
// deadline.
func startWithRetry(o *consumeOpts, deadline time.Time, start func(extra []consumer.Option) error) error {
	for attempt := 1; ; attempt++ {
		var extra []consumer.Option
		if attempt > 1 {
			base := o.instance
			if base == "" {
				base = strconv.Itoa(os.Getpid())
			}
			extra = []consumer.Option{consumer.WithInstance(fmt.Sprintf("%s-r%d", base, attempt))}
		}
		err := start(extra)
		if err == nil || !strings.Contains(err.Error(), "route info not found") || time.Until(deadline) < time.Second {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
