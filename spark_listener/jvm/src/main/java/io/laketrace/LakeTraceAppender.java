package io.laketrace;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.apache.logging.log4j.message.Message;
import org.apache.logging.log4j.util.ReadOnlyStringMap;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;

/**
 * A log4j2 appender that writes Spark's driver log events as LakeTrace lake records
 * ({@code source = "spark"}) into the logger's spool directory, in files of its own
 * ({@link SpoolWriter}). Attached to the root logger by {@link #attach} (from Python, at
 * {@code spark_listener.install}), removed by {@link #detach}.
 *
 * <p>Spark's logging thread only copies the event and offers it to a bounded queue (a full
 * queue drops and counts the event, never blocks); one writer thread encodes and writes.
 * Not captured: events of LakeTrace's own flush jobs (the job group in the thread's Spark
 * local properties or task context; on Spark's scheduler threads, which have no job group,
 * a message naming a job or stage the listener saw start in that group, and while a flush
 * runs, Spark's own INFO-and-below events of such threads), of io.laketrace classes and of
 * the writer thread.
 * At most {@code limit} events per {@code windowMs} pass per logger and message template;
 * the rest are counted and reported in one summary record when the window ends or the file
 * is sealed. Compiled for Java 8 against log4j 2.20 (Spark 3.5's; Spark 4 ships 2.24).
 */
public final class LakeTraceAppender extends AbstractAppender {
    private static final ThreadLocal<Boolean> BUSY = new ThreadLocal<>();
    private static final String GROUP_PROP = "spark.jobGroup.id";
    private static final int MAX_KEYS = 10000;
    private static final int MAX_FRAMES = 256;
    private static final AtomicInteger ATTACHED = new AtomicInteger();
    private final AtomicInteger flushing = new AtomicInteger();
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    private final SparkContext sc;
    private final SpoolWriter out;
    private final String flushGroup;
    private final String tail;
    private final int limit;
    private final long windowMs;
    private final int capacity;
    private final ArrayBlockingQueue<Object> queue;
    private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();
    private final String idPrefix = UUID.randomUUID().toString().replace("-", "").substring(0, 16) + "-";
    private long ids;
    private boolean dropReported;
    private boolean errorReported;
    private final Thread writer;
    private final Thread hook;
    private volatile boolean closed;
    private volatile LoggerContext ctx;
    private volatile String lastSealed;

    private LakeTraceAppender(SparkContext sc, SpoolWriter out, String flushGroup, String tail,
            int limit, long windowMs, int capacity) {
        // a name of its own: log4j ignores a second appender of the same name on a logger
        super("LakeTraceSparkLogs-" + ATTACHED.incrementAndGet(), null, null, true, Property.EMPTY_ARRAY);
        this.sc = sc;
        this.out = out;
        this.flushGroup = flushGroup;
        FlushWork.group = flushGroup;
        this.tail = tail;
        this.limit = limit;
        this.windowMs = windowMs;
        this.capacity = capacity;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.writer = new Thread(this::run, "laketrace-spark-logs");
        this.writer.setDaemon(true);
        this.hook = new Thread(this::close, "laketrace-spark-logs-exit");
    }

    /** Start the writer and add the appender to the root logger of Spark's log4j context at {@code level}. */
    public static LakeTraceAppender attach(SparkContext sc, String level, String logDir, String prefix,
            String run, String host, String runtime, String appId, String appName, String flushGroup,
            long rotateBytes, int limit, long windowMs, int capacity, String[] patterns) {
        SpoolWriter w = new SpoolWriter(logDir, prefix, run, rotateBytes, patterns);
        String tail = ",\"source\":\"spark\",\"run_id\":" + LakeTraceListener.q(run) + ",\"host\":"
                + LakeTraceListener.q(host) + ",\"pid\":" + w.pidValue() + ",\"runtime\":"
                + LakeTraceListener.q(runtime) + ",\"app_id\":" + LakeTraceListener.q(appId)
                + ",\"app_name\":" + LakeTraceListener.q(appName);
        LakeTraceAppender a = new LakeTraceAppender(sc, w, flushGroup, tail, limit, windowMs, capacity);
        LoggerContext context = (LoggerContext) LogManager.getContext(SparkContext.class.getClassLoader(), false);
        a.start();
        a.writer.start();
        try {
            context.getConfiguration().getRootLogger().addAppender(a, Level.toLevel(level, Level.WARN), null);
            context.updateLoggers();
            a.ctx = context;
            Runtime.getRuntime().addShutdownHook(a.hook);
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
        return a;
    }

    /** Remove the appender from the root logger, write what is queued and seal; returns the sealed path. */
    public String detach() {
        LoggerContext context = ctx;
        ctx = null;
        if (context != null) {
            try {
                context.getConfiguration().getRootLogger().removeAppender(getName());
                context.updateLoggers();
            } catch (RuntimeException e) {
                // a reconfigured context no longer has it: nothing to remove
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (RuntimeException e) {
            // the JVM is shutting down: the hook runs close() itself
        }
        return close();
    }

    /** Write what is queued (and pending summaries) and seal the current file; returns the sealed path or null. */
    public String seal() {
        return control(false);
    }

    /** Python marks the span of a LakeTrace flush ({@code true} at its start, {@code false} at its end). */
    public void flushing(boolean on) {
        if (on) {
            flushing.incrementAndGet();
        } else if (flushing.decrementAndGet() < 0) {
            flushing.set(0);
        }
    }

    public long dropped() {
        return dropped.get();
    }

    public long written() {
        return written.get();
    }

    public long suppressed() {
        return suppressed.get();
    }

    public String activePath() {
        return out.activePath();
    }

    public boolean isAttached() {
        return ctx != null && !closed;
    }

    String close() {
        if (closed) {
            return lastSealed;
        }
        String sealed = control(true);
        closed = true;
        return sealed;
    }

    @Override
    public boolean stop(long timeout, TimeUnit unit) {
        setStopping();
        close();
        setStopped();
        return true;
    }

    private String control(boolean stop) {
        if (closed) {
            return null;
        }
        Control c = new Control(stop);
        try {
            if (!queue.offer(c, 10, TimeUnit.SECONDS) || !c.done.await(60, TimeUnit.SECONDS)) {
                return null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
        return c.sealed;
    }

    @Override
    public void append(LogEvent e) {
        if (closed || Thread.currentThread() == writer || BUSY.get() != null) {
            return;
        }
        String name = e.getLoggerName();
        if (name != null && name.startsWith("io.laketrace")) {
            return;
        }
        BUSY.set(Boolean.TRUE);
        try {
            capture(e, name);
        } catch (Throwable t) {
            // never disturb Spark's logging
        } finally {
            BUSY.remove();
        }
    }

    private void capture(LogEvent e, String name) {
        Item it = new Item();
        TaskContext tc = TaskContext.get();
        if (tc != null) {
            it.group = tc.getLocalProperty(GROUP_PROP);
            it.stage = tc.stageId();
            it.partition = tc.partitionId();
            it.attempt = tc.attemptNumber();
            it.task = tc.taskAttemptId();
        } else if (sc != null) {
            it.group = sc.getLocalProperty(GROUP_PROP);
        }
        if (flushGroup.equals(it.group)) {
            return;
        }
        Message m = e.getMessage();
        String msg = m == null ? null : m.getFormattedMessage();
        it.msg = msg == null ? "" : msg;
        it.logger = name == null ? "" : name;
        if (it.group == null && it.logger.startsWith("org.apache.spark.")) {
            // Spark's scheduler threads carry no job group: recognise flush work otherwise
            if (FlushWork.named(it.msg)) {
                return;
            }
            if (flushing.get() > 0 && e.getLevel() != null && e.getLevel().intLevel() > 300) {
                return;
            }
        }
        if (limit > 0 && !admit(it.logger, template(m, it.msg), e.getTimeMillis())) {
            return;
        }
        ReadOnlyStringMap data = e.getContextData();
        if (data != null && !data.isEmpty()) {
            it.context = data.toMap();
        }
        it.seconds = e.getInstant().getEpochSecond();
        it.nanos = e.getInstant().getNanoOfSecond();
        it.level = e.getLevel() == null ? 400 : e.getLevel().intLevel();
        it.thrown = e.getThrown();
        it.thread = e.getThreadName();
        if (!queue.offer(it)) {
            dropped.incrementAndGet();
        }
    }

    /** The message's template: its format when parameterised, else the text with digit runs as '#'. */
    static String template(Message m, String msg) {
        String f = m == null ? null : m.getFormat();
        if (f != null && !f.isEmpty() && !f.equals(msg)) {
            return f;
        }
        StringBuilder b = new StringBuilder(msg.length());
        boolean digits = false;
        for (int i = 0; i < msg.length(); i++) {
            char c = msg.charAt(i);
            if (c >= '0' && c <= '9') {
                if (!digits) {
                    b.append('#');
                }
                digits = true;
            } else {
                b.append(c);
                digits = false;
            }
        }
        return b.toString();
    }

    private boolean admit(String logger, String template, long now) {
        String key = logger + '\u0001' + template;
        for (;;) {
            Window w = windows.get(key);
            if (w == null) {
                if (windows.size() >= MAX_KEYS) {
                    return true; // bounded memory: keys beyond the cap are not limited
                }
                Window fresh = new Window(logger, template, now);
                w = windows.putIfAbsent(key, fresh);
                if (w == null) {
                    w = fresh;
                }
            }
            synchronized (w) {
                if (w.dead) {
                    continue;
                }
                if (now - w.start >= windowMs) {
                    offerSummary(w);
                    w.start = now;
                    w.count = 0;
                }
                if (++w.count <= limit) {
                    return true;
                }
                w.suppressed++;
                suppressed.incrementAndGet();
                return false;
            }
        }
    }

    /** Queue a summary of the suppressed events of {@code w} (caller holds its lock). */
    private void offerSummary(Window w) {
        if (w.suppressed == 0) {
            return;
        }
        Item s = new Item();
        long now = System.currentTimeMillis();
        s.seconds = now / 1000;
        s.nanos = (int) (now % 1000) * 1000000;
        s.level = 300;
        s.logger = w.logger;
        s.thread = "laketrace-spark-logs";
        s.msg = "LakeTrace suppressed " + w.suppressed + " more Spark log message(s) like this one from "
                + w.logger + " (at most " + limit + " per " + (windowMs / 1000) + " s): " + w.template;
        s.context = new TreeMap<>();
        s.context.put("laketrace.suppressed", Long.toString(w.suppressed));
        s.context.put("laketrace.template", w.template);
        w.suppressed = 0;
        if (!queue.offer(s)) {
            dropped.incrementAndGet();
        }
    }

    private void sweep(long now, boolean all) {
        Iterator<Window> it = windows.values().iterator();
        while (it.hasNext()) {
            Window w = it.next();
            synchronized (w) {
                boolean over = now - w.start >= windowMs;
                if (over || all) {
                    offerSummary(w);
                }
                if (over) {
                    w.dead = true;
                    it.remove();
                }
            }
        }
    }

    private void run() {
        List<Object> batch = new ArrayList<>();
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1 << 16);
        long lastSweep = System.currentTimeMillis();
        for (;;) {
            batch.clear();
            try {
                Object first = queue.poll(1, TimeUnit.SECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, 1023);
                }
            } catch (InterruptedException e) {
                // only close() ends the writer
            }
            for (Object o : batch) {
                if (o instanceof Item) {
                    encode((Item) o, buf);
                    continue;
                }
                Control c = (Control) o;
                sweep(System.currentTimeMillis(), true);
                drainItems(buf);
                reportDrops(buf);
                writeOut(buf);
                c.sealed = out.seal();
                lastSealed = c.sealed;
                c.done.countDown();
                if (c.stop) {
                    return;
                }
            }
            writeOut(buf);
            long now = System.currentTimeMillis();
            if (now - lastSweep >= 1000) {
                lastSweep = now;
                sweep(now, false);
                reportDrops(buf);
                writeOut(buf);
            }
        }
    }

    /** Encode the items queued now (summaries just offered); later controls stay queued. */
    private void drainItems(ByteArrayOutputStream buf) {
        // only this thread takes from the queue, so the head peeked at is the head polled
        while (queue.peek() instanceof Item) {
            encode((Item) queue.poll(), buf);
        }
    }

    private void reportDrops(ByteArrayOutputStream buf) {
        long n = dropped.get();
        if (n == 0 || dropReported) {
            return;
        }
        dropReported = true;
        Item r = new Item();
        long now = System.currentTimeMillis();
        r.seconds = now / 1000;
        r.nanos = (int) (now % 1000) * 1000000;
        r.level = 300;
        r.logger = "io.laketrace.LakeTraceAppender";
        r.thread = "laketrace-spark-logs";
        r.msg = "LakeTrace dropped " + n + " Spark log event(s): the capture buffer (" + capacity
                + " events) was full; Spark's logging was never blocked. Further drops are counted,"
                + " not reported (spark_logs_dropped on the listener handle).";
        encode(r, buf);
    }

    private void writeOut(ByteArrayOutputStream buf) {
        if (buf.size() == 0) {
            return;
        }
        try {
            out.write(buf.toByteArray());
        } catch (IOException | RuntimeException e) {
            if (!errorReported) {
                errorReported = true;
                System.err.println("LakeTrace: Spark log capture cannot write the spool (" + e
                        + "); records are being lost. Spark keeps running.");
            }
            out.seal();
        }
        buf.reset();
    }

    private void encode(Item it, ByteArrayOutputStream buf) {
        try {
            byte[] line = SpoolWriter.utf8(line(it));
            buf.write(line, 0, line.length);
            written.incrementAndGet();
        } catch (RuntimeException e) {
            // one event that cannot be encoded never stops the writer
        }
        if (buf.size() >= (1 << 18)) {
            writeOut(buf);
        }
    }

    private String line(Item it) {
        StringBuilder b = new StringBuilder(512);
        String level;
        int no;
        if (it.level <= 100) {
            level = "CRITICAL";
            no = 50;
        } else if (it.level <= 200) {
            level = "ERROR";
            no = 40;
        } else if (it.level <= 300) {
            level = "WARNING";
            no = 30;
        } else if (it.level <= 400) {
            level = "INFO";
            no = 20;
        } else if (it.level <= 500) {
            level = "DEBUG";
            no = 10;
        } else {
            level = "TRACE";
            no = 5;
        }
        b.append("{\"ts\":\"").append(TS.format(java.time.Instant.ofEpochSecond(it.seconds, it.nanos)))
                .append("\",\"level\":\"").append(level).append("\",\"level_no\":").append(no)
                .append(",\"msg\":").append(LakeTraceListener.q(out.redact(it.msg)))
                .append(",\"context\":{");
        Integer job = null;
        Integer stage = it.stage >= 0 ? it.stage : null;
        boolean first = true;
        if (it.context != null) {
            for (Map.Entry<String, String> en : it.context.entrySet()) {
                String k = en.getKey();
                if ("job_id".equals(k)) {
                    job = asInt(en.getValue());
                } else if ("stage_id".equals(k) && stage == null) {
                    stage = asInt(en.getValue());
                }
                b.append(first ? "" : ",").append(LakeTraceListener.q(k)).append(':')
                        .append(LakeTraceListener.q(out.redact(en.getValue())));
                first = false;
            }
        }
        if (it.task >= 0 && (it.context == null || !it.context.containsKey("task_id"))) {
            b.append(first ? "" : ",").append("\"task_id\":\"").append(it.task).append('"');
        }
        b.append("},\"record_id\":\"").append(idPrefix).append(Long.toHexString(++ids))
                .append("\",\"thread_name\":").append(LakeTraceListener.q(it.thread))
                .append(",\"module\":null,\"function\":null,\"line\":null,\"logger\":")
                .append(LakeTraceListener.q(it.logger)).append(",\"exception\":");
        exception(it.thrown, b);
        b.append(",\"traceback\":").append(LakeTraceListener.q(trace(it.thrown))).append(tail)
                .append(",\"job_id\":").append(job).append(",\"stage_id\":").append(stage)
                .append(",\"partition_id\":").append(it.partition >= 0 ? it.partition : null)
                .append(",\"task_attempt\":").append(it.attempt >= 0 ? it.attempt : null)
                .append(",\"job_group\":").append(LakeTraceListener.q(it.group))
                .append(",\"notebook\":null}\n");
        return b.toString();
    }

    private static Integer asInt(String v) {
        try {
            return v == null ? null : Integer.valueOf(v.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Spark's exception structure: class, msg and the frames of the outermost throwable. */
    private void exception(Throwable t, StringBuilder b) {
        if (t == null) {
            b.append("null");
            return;
        }
        b.append("{\"class\":").append(LakeTraceListener.q(t.getClass().getName())).append(",\"msg\":")
                .append(LakeTraceListener.q(out.redact(t.getMessage()))).append(",\"stacktrace\":[");
        StackTraceElement[] frames = t.getStackTrace();
        for (int i = 0; i < frames.length && i < MAX_FRAMES; i++) {
            StackTraceElement f = frames[i];
            b.append(i == 0 ? "{" : ",{").append("\"class\":").append(LakeTraceListener.q(f.getClassName()))
                    .append(",\"method\":").append(LakeTraceListener.q(f.getMethodName()))
                    .append(",\"file\":").append(LakeTraceListener.q(f.getFileName()))
                    .append(",\"line\":").append(LakeTraceListener.q(
                            f.getLineNumber() >= 0 ? Integer.toString(f.getLineNumber()) : null))
                    .append('}');
        }
        b.append("]}");
    }

    private String trace(Throwable t) {
        if (t == null) {
            return null;
        }
        StringWriter sw = new StringWriter();
        try (PrintWriter pw = new PrintWriter(sw)) {
            t.printStackTrace(pw);
        } catch (RuntimeException e) {
            return t.toString();
        }
        return out.redact(sw.toString());
    }

    /** One captured event (copied on Spark's logging thread). */
    private static final class Item {
        long seconds;
        int nanos;
        int level;
        String logger;
        String msg;
        String thread;
        String group;
        Throwable thrown;
        Map<String, String> context;
        int stage = -1;
        int partition = -1;
        int attempt = -1;
        long task = -1;
    }

    /** A seal (or, with {@code stop}, a final seal) request for the writer thread. */
    private static final class Control {
        final boolean stop;
        final CountDownLatch done = new CountDownLatch(1);
        volatile String sealed;

        Control(boolean stop) {
            this.stop = stop;
        }
    }

    /** The rate-limit state of one logger and message template. */
    private static final class Window {
        final String logger;
        final String template;
        long start;
        int count;
        long suppressed;
        boolean dead;

        Window(String logger, String template, long start) {
            this.logger = logger;
            this.template = template;
            this.start = start;
        }
    }
}
