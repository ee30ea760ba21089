package io.laketrace;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The jobs and stages of LakeTrace's flush job group, as the listener saw them start, so the
 * log appender can skip what Spark's scheduler threads (which carry no job group) log about
 * them. No log4j classes here: the listener uses it on JVMs without log4j2 too.
 */
final class FlushWork {
    private static final int MAX_IDS = 10000;
    private static final Set<Integer> JOBS = ConcurrentHashMap.newKeySet();
    private static final Set<Integer> STAGES = ConcurrentHashMap.newKeySet();
    /** The flush job group (set by the appender from Python's runtime.FLUSH_JOB_GROUP). */
    static volatile String group = "laketrace-flush";

    private FlushWork() {
    }

    /** A job (or, with job -1, a stage) of the flush group started. */
    static void add(int job, int stage) {
        if (JOBS.size() + STAGES.size() > MAX_IDS) {
            JOBS.clear();
            STAGES.clear();
        }
        if (job >= 0) {
            JOBS.add(job);
        }
        if (stage >= 0) {
            STAGES.add(stage);
        }
    }

    /** Whether {@code msg} names a flush job ("Job 5") or stage ("stage 7.0", "ResultStage 7"). */
    static boolean named(String msg) {
        if (JOBS.isEmpty() && STAGES.isEmpty()) {
            return false;
        }
        String low = msg.toLowerCase(Locale.ROOT);
        return names(low, "stage ", STAGES) || names(low, "job ", JOBS);
    }

    private static boolean names(String low, String word, Set<Integer> ids) {
        if (ids.isEmpty()) {
            return false;
        }
        for (int i = low.indexOf(word); i >= 0; i = low.indexOf(word, i + 1)) {
            int j = i + word.length();
            int k = j;
            while (k < low.length() && k - j < 9 && Character.isDigit(low.charAt(k))) {
                k++;
            }
            if (k > j && ids.contains(Integer.valueOf(low.substring(j, k)))) {
                return true;
            }
        }
        return false;
    }
}
