#!/usr/bin/env perl
# Gateway benchmark: the Walrus gateway against plain nginx on the same
# machine, in one run.  Each figure is a ratio to a baseline measured in
# the same run, with the absolute numbers beside it:
#
#   1. GET throughput, 1 MiB, 64 MiB, 1 GiB: gateway vs proxy_pass of the
#      same bytes, stored as one file on one plain static server;
#   2. 10 KiB GET requests/s and latency (wrk): gateway with a warm Redis,
#      gateway without Redis, and the plain proxy;
#   3. 64 MiB PUT: gateway vs WebDAV PUT of the same bytes, and the CPU
#      seconds the gateway and the nodes each spend on it (run in two
#      nginx instances for that);
#   4. time to first byte of a 1 GiB GET;
#   5. 1 MiB GET latency with one node 500 ms late vs all healthy;
#   6. peak worker RSS during 64 MiB and 1 GiB GET and PUT;
#   7. perf profile of the workers during a 64 MiB GET, a 64 MiB PUT and
#      10 KiB GETs.
#
# One nginx (worker_processes 2) holds the gateway, the n = 7 storage
# nodes (segment size 4 MiB) and the baseline servers.  It is configured
# with the test harness (t/lib/WalrusTest.pm) and restarted between
# phases: A Redis and all nodes healthy, B larger proxy buffers on the
# node location (informative), C one node 500 ms late, D the same with a
# 50 ms hedge delay, E no Redis; between A and B the gateway and the
# nodes run in two nginx instances.  Run with `make bench` (about 8 minutes
# with the codec bench; apt-get installs what is missing, with sudo
# unless root); docs/benchmarks.md explains the results.
#
# Environment: WALRUS_BENCH_DURATION (wrk seconds, 10),
# WALRUS_BENCH_BASELINE (the module file of an earlier build: its CPU per
# PUT, measured in the same run, becomes a third column),
# WALRUS_BENCH_LARGE (0 skips the 1 GiB blob), WALRUS_BENCH_PERF (0 skips
# the profile), WALRUS_BENCH_SEQ (sequential GETs, 1000),
# WALRUS_BENCH_OUT (the markdown results,
# build/bench/gateway.md), WALRUS_KEEP=1 keeps the directory.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use WalrusTest;
use POSIX qw(strftime);
use List::Util qw(min max);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

$| = 1;

my $KiB = 1024;
my $MiB = 1024 * $KiB;
my $GiB = 1024 * $MiB;
my $N = 7;
my $SEGMENT = 4 * $MiB;
my $WORKERS = 2;
my $DURATION = $ENV{WALRUS_BENCH_DURATION} // 10;
my $LARGE = $ENV{WALRUS_BENCH_LARGE} // 1;
my $PERF = $ENV{WALRUS_BENCH_PERF} // 1;
my $REPS = 3;
my $PUT_REPS = 7;
my $SEQ = $ENV{WALRUS_BENCH_SEQ} // 1000;
my $DELAY = 0.5;
my $ROOT = $WalrusTest::ROOT;
my $OUT = $ENV{WALRUS_BENCH_OUT} // "$ROOT/build/bench/gateway.md";

my $started = time;
my $load0 = (split ' ', `cat /proc/loadavg`)[0];

# --- dependencies ---------------------------------------------------------

sub installed {
    my $st = `dpkg-query -W -f='\${Status}' $_[0] 2>/dev/null`;
    return $st =~ /install ok installed/;
}

sub ensure_packages {
    my @missing = grep { !installed($_) } @_;
    return unless @missing;
    print "installing: @missing\n";
    my @sudo = $> == 0 ? () : ('sudo');
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    system(@sudo, 'apt-get', 'update', '-qq') == 0
        or die "apt-get update failed\n";
    system(@sudo, 'apt-get', 'install', '-y', '-qq',
           '--no-install-recommends', @missing) == 0
        or die "apt-get install @missing failed\n";
}

ensure_packages(qw(wrk curl redis-server libnginx-mod-http-echo));
ensure_packages('linux-perf') if $PERF;

my $ECHO = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
-f $ECHO or die "$ECHO is missing\n";

# --- the network ------------------------------------------------------------

# Ports below the ephemeral range: no outgoing connection (nor a test that
# binds port 0) can hold one of them when nginx restarts between phases.
my %taken;
sub quiet_port {
    my ($low) = split ' ', WalrusTest::read_file(
        '/proc/sys/net/ipv4/ip_local_port_range') // '32768';
    for (1 .. 1000) {
        my $port = 20000 + int rand($low - 20000);
        next if $taken{$port}++;
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Listen => 1,
                                      ReuseAddr => 1) or next;
        close $s;
        return $port;
    }
    die "no free port\n";
}

{
    no warnings 'redefine';
    *WalrusTest::free_port = \&quiet_port;
}

my $t = WalrusTest->new(n => $N, segment_size => $SEGMENT);
my $dir = $t->dir;

# nginx maps the module file; `make` rewrites build/*.so in place, which
# crashes a running nginx, so the bench loads its own copy
system('cp', $WalrusTest::MODULE, "$dir/ngx_http_walrus_module.so") == 0
    or die "cannot copy $WalrusTest::MODULE\n";
$WalrusTest::MODULE = "$dir/ngx_http_walrus_module.so";
my $BASELINE;
if ($ENV{WALRUS_BENCH_BASELINE}) {
    $BASELINE = "$dir/baseline_module.so";
    system('cp', $ENV{WALRUS_BENCH_BASELINE}, $BASELINE) == 0
        or die "cannot copy $ENV{WALRUS_BENCH_BASELINE}\n";
}
my %port = map { $_ => quiet_port() } qw(static proxy dav real);
my $GW = $t->gateway_url;
my $PROXY = "http://127.0.0.1:$port{proxy}";
my $DAV = "http://127.0.0.1:$port{dav}";

mkdir "$dir/$_" or die "$dir/$_: $!" for qw(static dav dav_tmp);
WalrusTest::chown_worker("$dir/$_") for qw(dav dav_tmp);

print "directory: $dir\n";

# the baseline servers: a plain static server holding each blob as one
# file, a proxy_pass in front of it (keepalive upstream), a WebDAV server
sub baseline_servers {
    return <<"END";
    upstream bench_static {
        server 127.0.0.1:$port{static};
        keepalive 16;
    }

    server {
        listen 127.0.0.1:$port{static};
        access_log $dir/logs/static.access.log walrus;
        root $dir/static;
    }

    server {
        listen 127.0.0.1:$port{proxy};
        access_log $dir/logs/proxy.access.log walrus;

        location / {
            proxy_pass http://bench_static;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }

    server {
        listen 127.0.0.1:$port{dav};
        access_log $dir/logs/dav.access.log walrus;
        client_max_body_size 2g;
        client_body_temp_path $dir/dav_tmp;
        root $dir/dav;

        location / {
            dav_methods PUT;
        }
    }
END
}

# node $i answers 500 ms late: its port holds an echo_sleep in front of
# a proxy to the real node, which listens on another port
sub delayed_node {
    my ($i) = @_;
    my $real = $t->node_server($i);
    my $np = $t->node_port($i);
    $real =~ s/listen 127\.0\.0\.1:$np;/listen 127.0.0.1:$port{real};/
        or die 'cannot move the delayed node';

    return $real . <<"END";
    server {
        listen 127.0.0.1:$np;
        access_log $dir/logs/delay.access.log walrus;
        client_max_body_size 2g;

        location / {
            echo_sleep $DELAY;
            echo_exec \@real;
        }

        location \@real {
            proxy_pass http://127.0.0.1:$port{real};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
END
}

my $GATEWAY_LIMITS = 'walrus_gateway_max_blob_size 2g; client_max_body_size 2g;';

# the harness's config with $WORKERS workers
sub set_workers {
    my ($conf) = @_;
    $conf =~ s/^worker_processes 1;$/worker_processes $WORKERS;/m
        or die 'cannot set worker_processes';
    return $conf;
}

# (re)starts nginx: redis => 0|1, delay => node index, hedge => delay
sub configure {
    my (%o) = @_;
    $t->stop if $t->master_pid && kill 0, $t->master_pid;

    my $extra = $GATEWAY_LIMITS;
    $extra .= " walrus_gateway_hedge_delay $o{hedge};" if $o{hedge};
    my $http = baseline_servers();
    $http .= delayed_node($o{delay}) if defined $o{delay};

    $t->write_config(gateway => 1, redis => $o{redis},
                     node_location_extra => $o{node_location} // '',
                     main => "load_module $ECHO;",
                     down => defined $o{delay} ? [ $o{delay} ] : [],
                     gateway_extra => $extra, http => $http);

    my $conf = set_workers(WalrusTest::read_file("$dir/nginx.conf"));
    $conf =~ s/^(    log_format walrus '[^']*)';$/$1 \$pid';/m
        or die 'cannot log the worker';
    WalrusTest::write_file("$dir/nginx.conf", $conf);

    $t->run;
    my @w = $t->worker_pids;
    die "expected $WORKERS workers, got @w" unless @w == $WORKERS;
}

# the gateway in an nginx of its own (gw.conf), the nodes in the harness's
# nginx, two workers each: the CPU each side spends on a PUT.  The nodes'
# keepers are off (no scrubbing, sync or audits in the window: a PUT's
# cost alone); $engine 'openssl' starts both with WALRUS_SHA256=openssl,
# the leaf engine before multi-buffer, as the same run's baseline.
sub configure_split {
    my ($engine, $module) = @_;
    $t->stop if $t->master_pid && kill 0, $t->master_pid;

    local %ENV = %ENV;
    $ENV{WALRUS_SHA256} = $engine if $engine;
    local $WalrusTest::MODULE = $module // $WalrusTest::MODULE;

    $t->write_config(gateway => 1, nodes => 0,
                     gateway_extra => $GATEWAY_LIMITS);
    my $gw = set_workers(WalrusTest::read_file("$dir/nginx.conf"));
    $gw =~ s{^pid \S+;$}{pid $dir/logs/gw.pid;}m
        && $gw =~ s{^error_log \S+}{error_log $dir/logs/gw-error.log}m
        or die 'cannot write gw.conf';
    WalrusTest::write_file("$dir/gw.conf", $gw);

    $t->write_config(gateway => 0, http => "    walrus_node_keeper off;\n");
    $t->{extra_ports} = [];
    WalrusTest::write_file("$dir/nginx.conf",
                           set_workers(WalrusTest::read_file("$dir/nginx.conf")));
    $t->run;

    system($WalrusTest::NGINX, '-p', "$dir/", '-c', "$dir/gw.conf",
           '-e', "$dir/logs/gw-error.log") == 0
        or die "the gateway's nginx did not start\n";
    my $up;
    for (1 .. 100) {
        last if $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                            PeerPort => $t->{ports}[$N]);
        sleep 0.05;
    }
    $up or die "the gateway's nginx does not listen\n";
    my $master = WalrusTest::read_file("$dir/logs/gw.pid") // die;
    chomp $master;
    return $master;
}

sub stop_split {
    my ($master) = @_;
    kill 'QUIT', $master;
    sleep 0.05 while kill 0, $master;
    my $log = WalrusTest::read_file("$dir/logs/gw-error.log") // '';
    die "the gateway's nginx logged:\n$1\n"
        if $log =~ /^(.*\[(?:alert|crit|emerg)\].*)$/m;
}

# CPU seconds the processes (and their threads) have used
sub cpu_seconds {
    my $ticks = 0;
    for my $pid (@_) {
        my @f = split ' ', WalrusTest::read_file("/proc/$pid/stat") // '';
        $ticks += $f[13] + $f[14];
    }
    return $ticks / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# --- helpers ----------------------------------------------------------------

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

sub percentile {
    my ($p, @v) = @_;
    my @s = sort { $a <=> $b } @v;
    my $k = int($p / 100 * @s + 0.999999) - 1;
    return $s[$k < 0 ? 0 : $k];
}

sub run_cmd {
    my ($cmd) = @_;
    my $out = `$cmd`;
    die "failed: $cmd\n" if $? != 0;
    return $out;
}

sub make_file {
    my ($path, $size) = @_;
    run_cmd("head -c $size /dev/urandom > $path");
    die "$path: short" unless -s $path == $size;
}

# a copy of $src whose first 16 bytes differ: a new blob of the same size
sub variant {
    my ($src, $dst, $k) = @_;
    run_cmd("cp $src $dst");
    open my $fh, '+<:raw', $dst or die "$dst: $!";
    print $fh pack('a16', "variant $k " . time);
    close $fh or die;
}

my $CURL_W = '%{http_code} %{size_download} %{size_upload} '
             . '%{time_starttransfer} %{time_total}';

# one curl transfer: (code, size down, size up, ttfb s, total s)
sub curl {
    my (@args) = @_;
    my $out = run_cmd(join ' ', 'curl -s -H Expect: -w', "'$CURL_W'",
                      @args);
    my @f = split ' ', $out;
    return @f;
}

sub curl_get {
    my ($url, $size) = @_;
    my ($code, $down, undef, $ttfb, $total) = curl('-o /dev/null', $url);
    die "GET $url: $code, $down bytes" unless $code == 200 && $down == $size;
    return { mbs => $size / $total / 1e6, ttfb => $ttfb, total => $total };
}

sub put_blob {
    my ($file, $query) = @_;
    $query //= '';
    my $resp = "$dir/put.json";
    my ($code, undef, $up, undef, $total) =
        curl("-o $resp -T $file", "'$GW/v1/blobs$query'");
    my $body = WalrusTest::read_file($resp) // '';
    die "PUT $file: $code $body" unless $code == 200
                                        && $up == -s $file;
    $body =~ /"blobId":"([A-Za-z0-9_-]{43})"/ or die "no blob ID: $body";
    return ($1, (-s $file) / $total / 1e6, $total);
}

sub dav_put {
    my ($file, $name) = @_;
    my ($code, undef, $up, undef, $total) =
        curl("-o /dev/null -T $file", "$DAV/$name");
    die "DAV PUT: $code" unless ($code == 201 || $code == 204)
                                && $up == -s $file;
    unlink "$dir/dav/$name";
    return ((-s $file) / $total / 1e6, $total);
}

# the gateway answers at a quorum: the last nodes may still be storing
sub remove_blob {
    my ($bid) = @_;
    my $cmd = 'rm -rf ' . join ' ', map { $t->store($_) . "/$bid" } 0 .. $N - 1;
    for (1 .. 50) {
        return if system("$cmd 2>/dev/null") == 0;
        sleep 0.1;
    }
    run_cmd($cmd);
}

# MB/s of writing 128 MiB files into new page cache (the files are kept)
# and into recycled page cache (each file deleted before the next)
sub page_cache_rates {
    my %rate;
    my $block = "\xa5" x (1 << 20);
    for my $mode (qw(new recycled)) {
        my @files = map { "$dir/pagecache.$mode.$_" } 1 .. 3;
        my $t0 = time;
        for my $f (@files) {
            open my $fh, '>:raw', $f or die "$f: $!";
            syswrite($fh, $block) == length $block or die "$f: $!"
                for 1 .. 128;
            close $fh or die;
            unlink $f if $mode eq 'recycled';
        }
        $rate{$mode} = 3 * 128 * (1 << 20) / (time - $t0) / 1e6;
        unlink @files;
    }
    return %rate;
}

sub sha_of_file { (split ' ', run_cmd("sha256sum $_[0]"))[0] }
sub sha_of_url { (split ' ', run_cmd("curl -sf $_[0] | sha256sum"))[0] }

sub written {
    my $io = WalrusTest::read_file("/proc/$_[0]/io") // '';
    return $io =~ /^write_bytes:\s+(\d+)/m ? $1 : 0;
}

# runs $code and returns (peak worker RSS KiB, that worker's RSS KiB before,
# bytes the workers wrote to files, what $code returned): VmHWM is reset
# first, write_bytes counts pages dirtied in files
sub measure {
    my ($code) = @_;
    my @w = $t->worker_pids;
    my (%idle, %wb);
    for my $pid (@w) {
        WalrusTest::write_file("/proc/$pid/clear_refs", "5\n");
        $idle{$pid} = WalrusTest::peak_rss($pid);
        $wb{$pid} = written($pid);
    }
    my @r = $code->();
    my ($peak, $base, $wrote) = (0, 0, 0);
    for my $pid (@w) {
        my $hwm = WalrusTest::peak_rss($pid);
        ($peak, $base) = ($hwm, $idle{$pid}) if $hwm > $peak;
        $wrote += written($pid) - $wb{$pid};
    }
    return ($peak, $base, $wrote, @r);
}

my $LUA = "$dir/report.lua";
WalrusTest::write_file($LUA, <<'END');
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRK %d %d %d %.1f %.1f %.1f %d %d\n",
        summary.requests, summary.bytes, summary.duration,
        latency:percentile(50), latency:percentile(99), latency.mean,
        e.connect + e.read + e.write + e.timeout, e.status))
end
END

# wrk: requests/s, MB/s, p50 ms, p99 ms
sub wrk {
    my ($url, $threads, $conns, $secs) = @_;
    my $out = run_cmd("wrk -t$threads -c$conns -d${secs}s --latency "
                      . "-s $LUA $url");
    $out =~ /^WRK (\d+) (\d+) (\d+) (\S+) (\S+) (\S+) (\d+) (\d+)$/m
        or die "wrk output: $out";
    my ($req, $bytes, $us, $p50, $p99, undef, $err, $status) =
        ($1, $2, $3, $4, $5, $6, $7, $8);
    die "wrk $url: $err socket errors, $status bad statuses"
        if $err || $status;
    return { rps => $req / ($us / 1e6), mbs => $bytes / ($us / 1e6) / 1e6,
             p50 => $p50 / 1e3, p99 => $p99 / 1e3, requests => $req };
}

# $count sequential GETs, latencies in ms: on one keepalive connection,
# or with $close a new connection for each
sub sequential {
    my ($url, $count, $size, $close) = @_;
    my $cfg = "$dir/curl.cfg";
    WalrusTest::write_file($cfg, "silent\nwrite-out = \"%{http_code} "
        . "%{size_download} %{time_total}\\n\"\n"
        . ($close ? "header = \"Connection: close\"\n" : '')
        . join('', map { "url = \"$url\"\noutput = \"/dev/null\"\n" }
                   1 .. $count));
    my @ms;
    for (split /\n/, run_cmd("curl -K $cfg")) {
        my ($code, $down, $total) = split ' ';
        die "GET $url: $code, $down bytes" unless $code == 200
                                                  && $down == $size;
        push @ms, $total * 1e3;
    }
    die "expected $count answers" unless @ms == $count;
    return @ms;
}

# each worker learns on its own which node is slow: GETs on new
# connections until every worker has answered a few
sub warm_workers {
    my ($url) = @_;
    my $log = "$dir/logs/gateway.access.log";
    my @workers = $t->worker_pids;
    for (1 .. 50) {
        sequential($url, 2, $MiB, 1);
        my %seen = map { $_ => 0 } @workers;
        for ((WalrusTest::read_file($log) // '')
             =~ /^GET \S+ 200 \d+ "[^"]*" (\d+)$/mg)
        {
            $seen{$_}++ if exists $seen{$_};
        }
        return unless grep { $_ < 2 } values %seen;
    }
    die "not every worker answered";
}

my @md;
sub out { push @md, @_; print map { "$_\n" } @_; }

sub r2 { sprintf '%.2f', $_[0] }
sub r1 { sprintf '%.1f', $_[0] }
sub r0 { sprintf '%.0f', $_[0] }
sub met { $_[0] ? 'met' : '**missed**' }

# --- data -------------------------------------------------------------------

my %size = (b10k => 10 * $KiB, b1m => $MiB, b64m => 64 * $MiB);
$size{b1g} = $GiB if $LARGE;
my %label = (b10k => '10 KiB', b1m => '1 MiB', b64m => '64 MiB',
             b1g => '1 GiB');
print "writing random blobs\n";
make_file("$dir/static/$_", $size{$_}) for sort keys %size;

print "phase A: Redis, all nodes healthy\n";
$t->start_redis;
configure(redis => 1);

my %id;
for my $b (qw(b10k b1m)) {
    ($id{$b}) = put_blob("$dir/static/$b");
}

# --- 6 and 3: RSS of single operations in fresh workers, 64 MiB PUT ---------

# each RSS figure is one operation in workers that have done nothing else
my (%rss, %wrote, $put1g_mbs, $put1g_s);
for my $b (grep { $size{$_} } qw(b64m b1g)) {
    print "PUT $label{$b}, fresh workers\n";
    configure(redis => 1);
    my ($peak, $base, $w, $bid, $mbs, $secs) =
        measure(sub { put_blob("$dir/static/$b") });
    ($id{$b}, $rss{put}{$b}, $wrote{$b}) = ($bid, [ $peak, $base ], $w);
    ($put1g_mbs, $put1g_s) = ($mbs, $secs) if $b eq 'b1g';
}

for my $b (grep { $size{$_} } qw(b64m b1g)) {
    print "GET $label{$b}, fresh workers\n";
    configure(redis => 1);
    my ($peak, $base) = measure(sub {
        curl_get("$GW/v1/blobs/$id{$b}", $size{$b}) });
    $rss{get}{$b} = [ $peak, $base ];
}

# WebDAV deletes each file after its PUT, so its next PUT writes into
# recycled page cache; the gateway's blobs are deleted from the stores
# the same way for the comparison, and kept for a second figure; PUTs
# not measured warm up the workers first (each keeps spare files)
print "PUT 64 MiB\n";
my (@put_gw, @put_kept, @put_dav);
for my $k (0 .. $WORKERS) {
    variant("$dir/static/b64m", "$dir/variant0", 1000 + $k);
    remove_blob((put_blob("$dir/variant0"))[0]);
}
dav_put("$dir/variant0", 'variant0');
unlink "$dir/variant0";
for my $k (1 .. $PUT_REPS) {
    my $v = "$dir/variant$k";
    variant("$dir/static/b64m", $v, $k);
    my ($bid, $mbs) = put_blob($v);
    push @put_gw, $mbs;
    remove_blob($bid);
    my (undef, undef, $w, $dmbs) =
        measure(sub { dav_put($v, "variant$k") });
    push @put_dav, $dmbs;
    $wrote{dav} = $w if $k == 1;
    unlink $v;
}
for my $k (1 .. $PUT_REPS) {
    my $v = "$dir/variant$k";
    variant("$dir/static/b64m", $v, 100 + $k);
    push @put_kept, (put_blob($v))[1];
    unlink $v;
}

my %split;
for my $engine ('openssl', '', $BASELINE ? 'build' : ()) {
    my $name = $engine || 'default';
    print "PUT 64 MiB, gateway and nodes in two nginx instances, "
        . "leaf engine: $name\n";
    my $master = $engine eq 'build' ? configure_split(undef, $BASELINE)
                                    : configure_split($engine);
    my @gw = split ' ', `pgrep -P $master`;
    my @nodes = $t->worker_pids;
    my $log = WalrusTest::read_file("$dir/logs/gw-error.log") // '';
    # the log is appended to by each start: this start's line is the last
    my @engine = $log =~ /walrus: (.*SHA-256[^\n]*)/g;
    $split{$name}{engine} = $engine[-1] // 'not logged';
    for my $k (0 .. $PUT_REPS) {
        my $v = "$dir/variant_s$k";
        variant("$dir/static/b64m", $v, 200 + $k);
        my ($g0, $n0) = (cpu_seconds(@gw), cpu_seconds(@nodes));
        my ($bid, $mbs) = put_blob($v);
        sleep 0.3;    # the nodes the gateway did not wait for
        my ($g1, $n1) = (cpu_seconds(@gw), cpu_seconds(@nodes));
        remove_blob($bid);
        unlink $v;
        next unless $k;    # the first one warms the workers up
        push @{$split{$name}{mbs}}, $mbs;
        push @{$split{$name}{gw}}, $g1 - $g0;
        push @{$split{$name}{nodes}}, $n1 - $n0;
    }
    stop_split($master);
}
configure(redis => 1);
my %page_cache = page_cache_rates();

# --- 1, 4 and 6: GET throughput, TTFB, RSS ----------------------------------

print "checking the bytes\n";
for my $b (sort keys %id) {
    sha_of_url("$GW/v1/blobs/$id{$b}") eq sha_of_file("$dir/static/$b")
        or die "the gateway returned other bytes for $b";
}

my %get;
print "GET 1 MiB\n";
for my $k (1 .. $REPS) {
    push @{$get{b1m}{gw}}, wrk("$GW/v1/blobs/$id{b1m}", 1, 1, 5)->{mbs};
    push @{$get{b1m}{px}}, wrk("$PROXY/b1m", 1, 1, 5)->{mbs};
}

# GETs alternate gateway and proxy; ttfb in ms
sub get_pairs {
    my ($b, $into, $reps) = @_;
    for my $k (1 .. $reps) {
        my $g = curl_get("$GW/v1/blobs/$id{$b}", $size{$b});
        my $p = curl_get("$PROXY/$b", $size{$b});
        push @{$into->{gw}}, $g->{mbs};
        push @{$into->{px}}, $p->{mbs};
        push @{$into->{gw_ttfb}}, $g->{ttfb} * 1e3;
        push @{$into->{px_ttfb}}, $p->{ttfb} * 1e3;
    }
}

for my $b (grep { exists $id{$_} } qw(b64m b1g)) {
    print "GET $label{$b}\n";
    curl_get("$GW/v1/blobs/$id{$b}", $size{$b});
    curl_get("$PROXY/$b", $size{$b});
    get_pairs($b, $get{$b} //= {}, $b eq 'b64m' ? 5 : $REPS);
}

# --- 7: profiles --------------------------------------------------------------

my %prof;
sub profile {
    my ($name, $code) = @_;
    (my $file = $name) =~ s/\W+/_/g;
    my $data = "$dir/perf.$file.data";
    my $pids = join ',', $t->worker_pids;
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/logs/perf.$file.log";
        open STDERR, '>&', \*STDOUT;
        exec 'perf', 'record', '-e', 'cpu-clock', '-F', '1000',
            '--call-graph', 'dwarf,16384', '-o', $data, '-p', $pids
            or exit 127;
    }
    sleep 1;
    my $t0 = time;
    $code->();
    my $wall = time - $t0;
    kill 'INT', $pid;
    waitpid $pid, 0;

    my $rep = "perf report -i $data --stdio -g none --no-inline 2>/dev/null";
    my (@top, @mod, @dsos);
    for (split /\n/, `$rep -q --no-children --sort dso,sym --percent-limit 1`) {
        # libcrypto's SHA-256 and Ed25519 code has no symbols: by object
        push @top, [ $1, $2, $3 ]
            if /^\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.+?)\s*$/
               && $3 !~ /^0x[0-9a-f]+$/;
    }
    for (split /\n/, `$rep -q --children --sort sym`) {
        push @mod, [ $1, $2 ]
            if /^\s*([\d.]+)%\s+[\d.]+%\s+\[.\]\s+((?:ngx_)?walrus_\S+)/;
    }
    for (split /\n/, `$rep -q --no-children --sort dso`) {
        push @dsos, [ $1, $2 ] if /^\s*([\d.]+)%\s+(\S+)/;
    }
    my ($samples) = `$rep --no-children --sort dso` =~ /^# Samples: (\S+)/m;
    unlink $data, "$data.old";
    $prof{$name} = { top => \@top, mod => \@mod, dso => \@dsos,
                     wall => $wall, samples => $samples // '?' };
}

if ($PERF && system('perf record -e cpu-clock -o /dev/null true '
                    . '>/dev/null 2>&1') == 0)
{
    print "profiling\n";
    profile('64 MiB GET (5 GETs)', sub {
        curl_get("$GW/v1/blobs/$id{b64m}", $size{b64m}) for 1 .. 5 });
    variant("$dir/static/b64m", "$dir/variant_p", 'p');
    profile('64 MiB PUT (1 PUT)', sub { put_blob("$dir/variant_p") });
    unlink "$dir/variant_p";
    profile('10 KiB GET, warm Redis (wrk -t1 -c16, 3 s)', sub {
        wrk("$GW/v1/blobs/$id{b10k}", 1, 16, 3) });
}

# --- 2: small blobs, warm Redis ---------------------------------------------

print "10 KiB GET, warm Redis\n";
my %small;
wrk("$GW/v1/blobs/$id{b10k}", 1, 16, 2);
wrk("$PROXY/b10k", 1, 16, 2);
$small{gw_redis} = wrk("$GW/v1/blobs/$id{b10k}", 1, 16, $DURATION);
$small{px_redis} = wrk("$PROXY/b10k", 1, 16, $DURATION);
my $cached = $t->redis('KEYS', '*');
$small{redis_keys} = ref $cached ? scalar @$cached : 0;

# --- 5: latency, healthy ------------------------------------------------------

print "1 MiB GET latency, healthy\n";
my %lat;
sequential("$GW/v1/blobs/$id{b1m}", 20, $MiB);
$lat{healthy} = [ sequential("$GW/v1/blobs/$id{b1m}", $SEQ, $MiB) ];
$lat{healthy_c} = [ sequential("$GW/v1/blobs/$id{b1m}", $SEQ, $MiB, 1) ];

# --- 1: larger proxy buffers on the node location (informative) -------------

my $BUFS = 'proxy_buffer_size 256k; proxy_buffers 4 256k; '
           . 'proxy_busy_buffers_size 256k;';
print "phase B: node location with $BUFS\n";
configure(redis => 1, node_location => $BUFS);
curl_get("$GW/v1/blobs/$id{b64m}", $size{b64m});
get_pairs('b64m', $get{b64m_bufs} = {}, 5);

# --- 5: one node late ---------------------------------------------------------

# the node that holds pair 0 of the blob: the gateway asks it first
my $late = WalrusTest::Proto::id_mod(WalrusTest::Proto::unb64url($id{b1m}),
                                     $N);

print "phase C: node $late late by ${DELAY}s\n";
configure(redis => 1, delay => $late);
warm_workers("$GW/v1/blobs/$id{b1m}");
$lat{late} = [ sequential("$GW/v1/blobs/$id{b1m}", $SEQ, $MiB) ];
$lat{late_c} = [ sequential("$GW/v1/blobs/$id{b1m}", $SEQ, $MiB, 1) ];
my $delay_hits = () = (WalrusTest::read_file("$dir/logs/delay.access.log")
                       // '') =~ /\n/g;

print "phase D: node $late late, hedge delay 50 ms\n";
configure(redis => 1, delay => $late, hedge => '50ms');
warm_workers("$GW/v1/blobs/$id{b1m}");
$lat{h50} = [ sequential("$GW/v1/blobs/$id{b1m}", int($SEQ / 4) || 1, $MiB) ];
$lat{h50_c} = [ sequential("$GW/v1/blobs/$id{b1m}", $SEQ, $MiB, 1) ];

# --- 2: small blobs, no Redis -------------------------------------------------

print "phase E: no Redis\n";
$t->stop_redis;
configure(redis => 0);
wrk("$GW/v1/blobs/$id{b10k}", 1, 16, 2);
$small{gw_none} = wrk("$GW/v1/blobs/$id{b10k}", 1, 16, $DURATION);
$small{px_none} = wrk("$PROXY/b10k", 1, 16, $DURATION);

$t->stop;
unlink "$dir/static/b1g";

# --- report -----------------------------------------------------------------

my $cpu = (`grep -m1 'model name' /proc/cpuinfo` =~ /:\s*(.*)/)[0];
my %have = map { $_ => 1 }
           split ' ', (`grep -m1 '^flags' /proc/cpuinfo` =~ /:\s*(.*)/)[0];
my @flags = grep { $have{$_} } qw(sha_ni avx2 avx512f gfni);
my $nproc = `nproc` + 0;
my ($nginx_v) = `/usr/sbin/nginx -v 2>&1` =~ m{nginx/(\S+)};
my ($curl_v) = `curl --version` =~ /curl (\S+)/;

out('', "Run: " . strftime('%Y-%m-%d %H:%M UTC', gmtime) . ", nproc $nproc, "
    . "\"$cpu\" (flags: @flags), nginx $nginx_v, curl $curl_v, "
    . sprintf('%.0f s; load average %s at the start, %s at the end '
              . '(other sessions share this machine).', time - $started,
              $load0, (split ' ', `cat /proc/loadavg`)[0]), '');

out('### 1. GET throughput (gateway vs proxy_pass)', '',
    '| blob | ratio (median) | gateway MB/s median (best) '
    . '| proxy MB/s median (best) | target |',
    '|---|---:|---:|---:|---|');
for my $b (grep { $get{$_} } qw(b1m b64m b1g b64m_bufs)) {
    my ($g, $p) = (median(@{$get{$b}{gw}}), median(@{$get{$b}{px}}));
    my $target = $b eq 'b64m' ? '>= 0.6 ' . met($g / $p >= 0.6) : '-';
    my $name = $b eq 'b64m_bufs'
        ? '64 MiB, node location with 256k proxy buffers (informative)'
        : $label{$b};
    out(sprintf '| %s | **%s** | %s (%s) | %s (%s) | %s |', $name,
        r2($g / $p), r0($g), r0(max @{$get{$b}{gw}}), r0($p),
        r0(max @{$get{$b}{px}}), $target);
}
out('');

out("### 2. 10 KiB GET (wrk -t1 -c16 --latency, $DURATION s)", '',
    '| setup | ratio to proxy | requests/s | p50 ms | p99 ms | target |',
    '|---|---:|---:|---:|---:|---|');
for my $row (['gateway, warm Redis', 'gw_redis', 'px_redis', 1],
             ['proxy (same phase)', 'px_redis', 'px_redis', 0],
             ['gateway, no Redis', 'gw_none', 'px_none', 1],
             ['proxy (same phase)', 'px_none', 'px_none', 0])
{
    my ($name, $k, $base, $tg) = @$row;
    my $ratio = $small{$k}{rps} / $small{$base}{rps};
    out(sprintf '| %s | **%s** | %s | %s | %s | %s |', $name, r2($ratio),
        r0($small{$k}{rps}), r2($small{$k}{p50}), r2($small{$k}{p99}),
        $tg ? '>= 0.3 ' . met($ratio >= 0.3) : '-');
}
out('', "Redis held $small{redis_keys} keys after the warm run.", '');

my ($pg, $pd) = (median(@put_gw), median(@put_dav));
out('### 3. 64 MiB PUT (gateway vs WebDAV PUT)', '',
    '| ratio (median) | gateway MB/s median (best) '
    . '| WebDAV MB/s median (best) | target |',
    '|---:|---:|---:|---|',
    sprintf('| **%s** | %s (%s) | %s (%s) | >= 200 MB/s %s |', r2($pg / $pd),
            r0($pg), r0(max @put_gw), r0($pd), r0(max @put_dav),
            met($pg >= 200)), '');
out(sprintf 'Both delete what they stored after each PUT. Keeping the '
    . 'blobs on the nodes instead: %s MB/s median (best %s). This machine '
    . 'writes %s MB/s into new page cache and %s MB/s into recycled page '
    . 'cache (3 files of 128 MiB, same run).', r0(median(@put_kept)),
    r0(max @put_kept), r0($page_cache{new}), r0($page_cache{recycled}));
out(sprintf 'Bytes written to files by the workers for one 64 MiB PUT '
    . '(write_bytes of /proc/PID/io): gateway %s MB (%s x the blob), '
    . 'WebDAV %s MB (%s x).', r0($wrote{b64m} / 1e6),
    r1($wrote{b64m} / $size{b64m}), r0($wrote{dav} / 1e6),
    r1($wrote{dav} / $size{b64m}));
out(sprintf '1 GiB PUT (once): %s MB/s, %.1f s, %s MB written to files '
    . '(%s x).', r0($put1g_mbs), $put1g_s, r0($wrote{b1g} / 1e6),
    r1($wrote{b1g} / $GiB)) if $LARGE;
out('');

my %cpu;
for my $name (keys %split) {
    $cpu{$name} = [ median(@{$split{$name}{gw}}),
                    median(@{$split{$name}{nodes}}) ];
    $cpu{$name}[2] = $cpu{$name}[0] + $cpu{$name}[1];
}
my ($base, $ours, $build) = ($cpu{openssl}, $cpu{default}, $cpu{build});
out('CPU seconds per 64 MiB PUT, the gateway and the nodes in two nginx '
    . "instances ($WORKERS workers each, median of $PUT_REPS; the "
    . "workers' threads included; the nodes' keepers off, so that the "
    . 'window holds the PUT alone), with the default leaf engine '
    . "($split{default}{engine}) and, as the baseline, with "
    . 'WALRUS_SHA256=openssl'
    . ($build ? ' and with an earlier build (WALRUS_BENCH_BASELINE='
                . "$ENV{WALRUS_BENCH_BASELINE}, $split{build}{engine})"
              : '')
    . '; the throughput those seconds allow on '
    . "this machine's $nproc cores if nothing else ran:", '',
    '| side | CPU s per PUT | OpenSSL leaves | ratio '
    . ($build ? '| earlier build | ratio ' : '') . '| bound MB/s |',
    '|---|---:|---:|---:|' . ($build ? '---:|---:|' : '') . '---:|',
    (map {
        my ($label, $i) = @$_;
        sprintf('| %s | %.2f | %.2f | %.2f | %s%s |', $label, $ours->[$i],
                $base->[$i], $ours->[$i] / $base->[$i],
                $build ? sprintf('%.2f | %.2f | ', $build->[$i],
                                 $ours->[$i] / $build->[$i])
                       : '',
                r0($nproc * $size{b64m} / $ours->[$i] / 1e6))
     } ['gateway', 0], ["nodes (all $N)", 1], ['both', 2]),
    '', sprintf('Measured throughput in that setup: %s MB/s median (best '
                . '%s); with OpenSSL leaves %s MB/s (best %s)%s.',
                r0(median(@{$split{default}{mbs}})),
                r0(max @{$split{default}{mbs}}),
                r0(median(@{$split{openssl}{mbs}})),
                r0(max @{$split{openssl}{mbs}}),
                $build ? sprintf('; the earlier build %s MB/s (best %s)',
                                 r0(median(@{$split{build}{mbs}})),
                                 r0(max @{$split{build}{mbs}}))
                       : ''), '');

if ($LARGE) {
    my ($g, $p) = (median(@{$get{b1g}{gw_ttfb}}),
                   median(@{$get{b1g}{px_ttfb}}));
    out('### 4. Time to first byte, 1 GiB GET', '',
        '| ratio (gateway / proxy) | gateway ms median (best) '
        . '| proxy ms median (best) |', '|---:|---:|---:|',
        sprintf('| **%s** | %s (%s) | %s (%s) |', r1($g / $p), r1($g),
                r1(min @{$get{b1g}{gw_ttfb}}), r1($p),
                r1(min @{$get{b1g}{px_ttfb}})), '');
}

out("### 5. 1 MiB GET latency, node $late late by $DELAY s", '',
    '| setup | GETs | p99 ratio to healthy | p50 ms | p99 ms | max ms '
    . '| target |', '|---|---:|---:|---:|---:|---:|---|');
for my $row (['all healthy, one keepalive connection', 'healthy',
              'healthy', 0],
             ['node late, hedge 300 ms (default), keepalive', 'late',
              'healthy', 1],
             ['node late, hedge 50 ms, keepalive', 'h50', 'healthy', 0],
             ['all healthy, a new connection per GET', 'healthy_c',
              'healthy_c', 0],
             ['node late, hedge 300 ms, new connections', 'late_c',
              'healthy_c', 0],
             ['node late, hedge 50 ms, new connections', 'h50_c',
              'healthy_c', 0])
{
    my ($name, $k, $base, $tg) = @$row;
    my $p99 = percentile(99, @{$lat{$k}});
    my $ratio = $p99 / percentile(99, @{$lat{$base}});
    out(sprintf '| %s | %d | **%s** | %s | %s | %s | %s |', $name,
        scalar @{$lat{$k}}, r1($ratio), r1(percentile(50, @{$lat{$k}})),
        r1($p99), r1(max @{$lat{$k}}),
        $tg ? '<= 1.5 ' . met($ratio <= 1.5) : '-');
}
out('', "Node $late holds pair 0 of the blob, so it is one of the p = 3 "
    . "nodes asked first; it got $delay_hits requests in phase C.", '');

out('### 6. Peak worker RSS (VmHWM of the larger of the two workers, one '
    . 'operation after a restart)', '',
    '| operation | blob | peak MiB | RSS of the fresh worker MiB '
    . '| ratio to 64 MiB |',
    '|---|---|---:|---:|---:|');
for my $op (qw(get put)) {
    for my $b (grep { $rss{$op}{$_} } qw(b64m b1g)) {
        my ($peak, $base) = @{$rss{$op}{$b}};
        out(sprintf '| %s | %s | %s | %s | %s |', uc $op, $label{$b},
            r0($peak / 1024), r0($base / 1024),
            r2($peak / $rss{$op}{b64m}[0]));
    }
}
out('');

for my $name (sort keys %prof) {
    my $p = $prof{$name};
    out(sprintf('### 7. Profile: %s, %.1f s, %s samples (1 kHz, both '
                . 'workers and their threads)', $name, $p->{wall},
                $p->{samples}), '',
        '| self % | object | symbol |', '|---:|---|---|');
    out(sprintf '| %s | %s | `%s` |', @$_)
        for @{$p->{top}}[0 .. min(11, $#{$p->{top}})];
    out('', 'By object: ' . join(', ', map { "$_->[1] $_->[0] %" }
                                 @{$p->{dso}}[0 .. min(6, $#{$p->{dso}})]),
        '', 'Module functions, inclusive: '
        . join(', ', map { "`$_->[1]` $_->[0] %" }
               @{$p->{mod}}[0 .. min(9, $#{$p->{mod}})]), '');
}

mkdir "$ROOT/build/bench";
WalrusTest::write_file($OUT, join("\n", @md) . "\n");
print "\nresults in $OUT\n";

done_testing();
