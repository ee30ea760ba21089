package io.laketrace;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Spool files written from the JVM with the Python writer's rules (laketrace/spool/names.py,
 * laketrace/spool/_fs.py, laketrace/sinks/file_sink.py): the name
 * {@code <prefix>__<stamp>__<run>__<pid>__<seq>.jsonl}, created 0600 under a temp name in
 * {@code _laketrace/tmp/}, locked, then hard-linked to its name (so recover never sees it
 * unlocked), appended to, rotated by size, and sealed by renaming it to
 * {@code .sealed.jsonl} while the lock is held. The lock is a POSIX record lock
 * ({@link FileChannel#lock}); recover checks it next to the flock of Python writers. Only the
 * appender's writer thread calls it (not thread-safe by design).
 */
final class SpoolWriter {
    private static final DateTimeFormatter STAMP =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSSSSS'Z'").withZone(ZoneOffset.UTC);
    private final Path dir;
    private final String prefix;
    private final String run;
    private final long pid;
    private final long rotateBytes;
    private final Pattern secrets;
    private static final AtomicInteger SEQ = new AtomicInteger();
    private FileChannel channel;
    private FileLock lock;
    private Path active;
    private long size;

    SpoolWriter(String dir, String prefix, String run, long rotateBytes, String[] patterns) {
        this.dir = Paths.get(dir);
        this.prefix = prefix;
        this.run = run;
        this.pid = pid();
        this.rotateBytes = rotateBytes;
        StringBuilder all = new StringBuilder();
        for (String p : patterns == null ? new String[0] : patterns) {
            all.append(all.length() > 0 ? "|" : "").append("(?:").append(p).append(")");
        }
        this.secrets = all.length() == 0 ? null : Pattern.compile(all.toString());
    }

    static long pid() {
        String name = ManagementFactory.getRuntimeMXBean().getName();
        try {
            return Long.parseLong(name.substring(0, name.indexOf('@')));
        } catch (RuntimeException e) {
            return 0;
        }
    }

    long pidValue() {
        return pid;
    }

    /**
     * Mask the secret part of every match as laketrace.log.secret_patterns does: keep the
     * text up to the end of the first group that took part, then {@code ***}.
     */
    String redact(String s) {
        if (secrets == null || s == null || s.isEmpty()) {
            return s;
        }
        Matcher m = secrets.matcher(s);
        if (!m.find()) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int last = 0;
        do {
            int keep = m.start();
            for (int i = 1; i <= m.groupCount(); i++) {
                if (m.group(i) != null) {
                    keep = m.end(i);
                    break;
                }
            }
            out.append(s, last, keep).append("***");
            last = m.end();
        } while (m.find());
        return out.append(s, last, s.length()).toString();
    }

    /** Append complete lines (each ends with a newline); rotates before a line that would overflow. */
    void write(byte[] data) throws IOException {
        if (channel == null) {
            open();
        } else if (rotateBytes > 0 && size > 0 && size + data.length > rotateBytes) {
            seal();
            open();
        }
        ByteBuffer buf = ByteBuffer.wrap(data);
        while (buf.hasRemaining()) {
            size += channel.write(buf);
        }
    }

    private void open() throws IOException {
        Path tmpDir = dir.resolve("_laketrace").resolve("tmp");
        if (!Files.isDirectory(tmpDir)) {
            Files.createDirectories(tmpDir,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        for (int attempt = 0; ; attempt++) {
            String name = prefix + "__" + STAMP.format(Instant.now()) + "__" + run + "__" + pid
                    + "__" + String.format("%06d", SEQ.incrementAndGet()) + ".jsonl";
            Path path = dir.resolve(name);
            Path tmp = tmpDir.resolve("." + name + ".creating.tmp");
            FileChannel ch = FileChannel.open(tmp, EnumSet.of(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, StandardOpenOption.APPEND),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try {
                FileLock l = ch.lock();
                Files.createLink(path, tmp);
                Files.deleteIfExists(tmp);
                channel = ch;
                lock = l;
                active = path;
                size = 0;
                return;
            } catch (FileAlreadyExistsException e) {
                ch.close();
                Files.deleteIfExists(tmp);
                if (attempt >= 15) {
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                ch.close();
                Files.deleteIfExists(tmp);
                throw e;
            }
        }
    }

    /** Seal the active file (an empty one is removed); returns the sealed path or null. */
    String seal() {
        if (channel == null) {
            return null;
        }
        Path path = active;
        String sealed = null;
        try {
            if (size == 0) {
                Files.deleteIfExists(path);
            } else {
                String name = path.getFileName().toString();
                Path target = path.resolveSibling(
                        name.substring(0, name.length() - ".jsonl".length()) + ".sealed.jsonl");
                // renamed while the lock is held, so recover() cannot seal it at the same time
                Files.move(path, target, StandardCopyOption.ATOMIC_MOVE);
                sealed = target.toString();
            }
        } catch (IOException | RuntimeException e) {
            sealed = null; // recover() seals it once the lock is gone
        } finally {
            try {
                if (lock != null) {
                    lock.release();
                }
            } catch (IOException | RuntimeException e) {
                // the close below drops the lock anyway
            }
            try {
                channel.close();
            } catch (IOException e) {
                // nothing left to do with it
            }
            channel = null;
            lock = null;
            active = null;
            size = 0;
        }
        return sealed;
    }

    String activePath() {
        return active == null ? null : active.toString();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
