package io.laketrace;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.apache.spark.TaskEndReason;
import org.apache.spark.TaskFailedReason;
import org.apache.spark.scheduler.JobFailed;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerEvent;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.StreamingQueryProgress;

/**
 * LakeTrace's JVM-side Spark listener (compiled for Java 8 against Spark 4 / Scala 2.13,
 * and careful to call only APIs that are binary-compatible with Spark 3.5 / Scala 2.12:
 * no Scala collections). Every callback catches Throwable so that a linkage error on
 * another Spark version can never stop the SparkContext. It filters events on the listener bus and forwards
 * only the few that become log records (job start/end, stage completion with a count of
 * successful tasks, failed tasks, executor removal, application end) to Python as compact
 * JSON strings through a {@link Consumer}. Successful task ends are only counted here, so
 * a 20,000-task job costs Python nothing per task. Structured Streaming's query events
 * travel on the same bus and arrive in {@link #onOtherEvent}, so no StreamingQueryListener
 * (and no extra listener-bus queue) is needed. Extending {@link SparkListener} (whose
 * methods are all no-ops) keeps it working when newer Spark versions add events.
 */
public class LakeTraceListener extends SparkListener {
    private volatile Consumer<Object> sink;
    private final Map<String, AtomicInteger> succeeded = new ConcurrentHashMap<>();

    /** Created by reflection from Python; the sink is attached with {@link #setSink}. */
    public LakeTraceListener() {
    }

    /** Attach (or, with null, detach) the Python consumer of the JSON events. */
    public void setSink(Consumer<Object> sink) {
        this.sink = sink;
    }

    private void send(String json) {
        Consumer<Object> s = sink;
        if (s == null) {
            return;
        }
        try {
            s.accept(json);
        } catch (Throwable t) {
            // the Python side went away or failed: never disturb Spark's listener bus
        }
    }

    static String q(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length() + 16).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    private static String prop(Properties p, String key) {
        return p == null ? null : p.getProperty(key);
    }

    @Override
    public void onJobStart(SparkListenerJobStart e) {
        try {
            Properties p = e.properties();
            if (FlushWork.group.equals(prop(p, "spark.jobGroup.id"))) {
                FlushWork.add(e.jobId(), -1);
            }
            String nb = prop(p, "spark.databricks.notebook.path");
            if (nb == null) {
                nb = prop(p, "spark.synapse.context.notebookname");
            }
            send("{\"e\":\"jobStart\",\"job\":" + e.jobId()
                    + ",\"group\":" + q(prop(p, "spark.jobGroup.id"))
                    + ",\"desc\":" + q(prop(p, "spark.job.description"))
                    + ",\"sql\":" + q(prop(p, "spark.sql.execution.id"))
                    + ",\"nb\":" + q(nb) + "}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
        try {
            if (FlushWork.group.equals(prop(e.properties(), "spark.jobGroup.id"))) {
                FlushWork.add(-1, e.stageInfo().stageId());
            }
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onJobEnd(SparkListenerJobEnd e) {
        try {
            String reason = null;
            if (e.jobResult() instanceof JobFailed) {
                Exception ex = ((JobFailed) e.jobResult()).exception();
                reason = ex.getMessage() != null ? ex.getMessage() : ex.toString();
            }
            send("{\"e\":\"jobEnd\",\"job\":" + e.jobId() + ",\"ok\":" + (reason == null)
                    + ",\"reason\":" + q(reason) + "}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
        try {
            TaskEndReason r = e.reason();
            String key = e.stageId() + ":" + e.stageAttemptId();
            if (r.getClass().getSimpleName().startsWith("Success")) {
                succeeded.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                return;
            }
            TaskInfo t = e.taskInfo();
            String text = r instanceof TaskFailedReason ? ((TaskFailedReason) r).toErrorString()
                    : r.toString();
            send("{\"e\":\"taskFailed\",\"task\":" + t.taskId() + ",\"stage\":" + e.stageId()
                    + ",\"partition\":" + t.partitionId() + ",\"attempt\":" + t.attemptNumber()
                    + ",\"executor\":" + q(t.executorId()) + ",\"host\":" + q(t.host())
                    + ",\"reason\":" + q(text) + "}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted e) {
        try {
            StageInfo s = e.stageInfo();
            AtomicInteger ok = succeeded.remove(s.stageId() + ":" + s.attemptNumber());
            String failure = s.failureReason().isDefined() ? s.failureReason().get() : null;
            send("{\"e\":\"stageDone\",\"stage\":" + s.stageId() + ",\"attempt\":"
                    + s.attemptNumber() + ",\"name\":" + q(s.name()) + ",\"tasks\":" + s.numTasks()
                    + ",\"ok\":" + (ok == null ? 0 : ok.get()) + ",\"failure\":" + q(failure) + "}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
        try {
            send("{\"e\":\"executorRemoved\",\"id\":" + q(e.executorId()) + ",\"reason\":"
                    + q(e.reason()) + "}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onOtherEvent(SparkListenerEvent e) {
        try {
            if (!(e instanceof StreamingQueryListener.Event)) {
                return;
            }
            if (e instanceof StreamingQueryListener.QueryStartedEvent) {
                StreamingQueryListener.QueryStartedEvent s =
                        (StreamingQueryListener.QueryStartedEvent) e;
                send("{\"e\":\"queryStarted\",\"id\":" + q(String.valueOf(s.id()))
                        + ",\"run\":" + q(String.valueOf(s.runId())) + ",\"name\":"
                        + q(s.name()) + "}");
            } else if (e instanceof StreamingQueryListener.QueryProgressEvent) {
                StreamingQueryProgress p = ((StreamingQueryListener.QueryProgressEvent) e).progress();
                double rate = p.processedRowsPerSecond();
                send("{\"e\":\"queryProgress\",\"id\":" + q(String.valueOf(p.id()))
                        + ",\"name\":" + q(p.name()) + ",\"batch\":" + p.batchId()
                        + ",\"rows\":" + p.numInputRows() + ",\"rate\":"
                        + (Double.isNaN(rate) || Double.isInfinite(rate) ? 0.0 : rate) + "}");
            } else if (e instanceof StreamingQueryListener.QueryTerminatedEvent) {
                StreamingQueryListener.QueryTerminatedEvent t =
                        (StreamingQueryListener.QueryTerminatedEvent) e;
                String error = t.exception().isDefined() ? t.exception().get() : null;
                send("{\"e\":\"queryTerminated\",\"id\":" + q(String.valueOf(t.id()))
                        + ",\"run\":" + q(String.valueOf(t.runId())) + ",\"error\":"
                        + q(error) + "}");
            }
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }

    @Override
    public void onApplicationEnd(SparkListenerApplicationEnd e) {
        try {
            send("{\"e\":\"appEnd\"}");
        } catch (Throwable t) {
            // never let an incompatible Spark API or a bug disturb the listener bus
        }
    }
}
