package WalrusTest;

# Test harness: writes an nginx configuration with the Walrus module into
# a temporary directory (storage nodes as servers on free loopback ports),
# starts nginx, and on stop fails the test on alerts, crashes or leaks.
#
# WALRUS_VALGRIND=1 runs nginx under valgrind (one process, no master);
# WALRUS_SANITIZE=1 loads the module built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-san/, `make module-sanitize`) into
# nginx with the sanitizer runtime preloaded; WALRUS_KEEP=1 keeps the
# directory.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Cwd qw(abs_path);
use Exporter qw(import);

our @EXPORT = qw(blob_is reason blob_of eventually is_inconsistent);

our $ROOT = abs_path(__FILE__ =~ s{/t/lib/WalrusTest\.pm$}{}r);
our $SANITIZE = $ENV{WALRUS_SANITIZE} ? 1 : 0;
our $MODULE = $SANITIZE ? "$ROOT/build-san/ngx_http_walrus_module.so"
                        : "$ROOT/build/ngx_http_walrus_module.so";
our $CTL = "$ROOT/build/walrusctl";
our $NGINX = $ENV{WALRUS_NGINX} // '/usr/sbin/nginx';

sub new {
    my ($class, %opt) = @_;

    -f $MODULE or BAIL_OUT("$MODULE is not built: run make");

    my $dir = tempdir('walrus-test-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{WALRUS_KEEP});
    chmod 0755, $dir;
    diag("test directory: $dir") if $ENV{WALRUS_KEEP};

    my $self = bless {
        dir => $dir,
        n => $opt{n} // 7,
        spares => $opt{spares} // 0,
        segment_size => $opt{segment_size} // 65536,
        epoch => $opt{epoch} // 1,
        publishers => $opt{publishers} // 1,
        scheme => $opt{scheme} // 'http',
        valgrind => $ENV{WALRUS_VALGRIND} ? 1 : 0,
        http => HTTP::Tiny->new(timeout => 30, keep_alive => 0),
    }, $class;

    make_path("$dir/logs", "$dir/keys");
    $self->{ports} = [ map { free_port() } 0 .. $self->{n} + $self->{spares} ];
    $self->make_committee();

    return $self;
}

sub dir { $_[0]{dir} }
sub n { $_[0]{n} }
sub f { int(($_[0]{n} - 1) / 3) }
sub committee { "$_[0]{dir}/committee.json" }
# spare nodes (spares => k) are nodes n .. n + k - 1: keys, stores,
# servers and upstreams, but not in the committee file the harness writes
# (a test lists them in a later epoch's)
sub spares { $_[0]{spares} }
sub nodes { $_[0]{n} + $_[0]{spares} }
sub node_port { $_[0]{ports}[$_[1] < $_[0]{n} ? $_[1] : $_[1] + 1] }
# scheme => 'https' gives the committee https:// node URLs (the test
# writes node servers that listen with ssl: t/56-tls.t)
sub node_url { "$_[0]{scheme}://127.0.0.1:" . $_[0]->node_port($_[1]) }
sub gateway_port { $_[0]{ports}[$_[0]{n}] }
sub gateway_url { "http://127.0.0.1:" . $_[0]->gateway_port }
sub store { "$_[0]{dir}/store$_[1]" }
sub error_log { "$_[0]{dir}/logs/error.log" }
sub http { $_[0]{http} }                  # the HTTP::Tiny of request

# the Redis database the harness's redis() commands select
sub redis_db { $_[0]{redis_db} = $_[1] }

# $bytes (a multiple of 4) of deterministic, varied data from $seed
sub pattern_blob {
    my ($bytes, $seed) = @_;
    my $word = $seed;
    return pack 'N*', map { $word = ($word * 1103515245 + 12345) % 2**32 }
                      1 .. $bytes / 4;
}

# a port nothing listens on, never the same one twice in a process: the
# kernel may give a port it has just given again once its socket closed
my %ports_given;

sub free_port {
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Listen => 1,
                                      ReuseAddr => 1)
            or die "cannot bind: $!";
        my $port = $s->sockport;
        close $s;
        return $port unless $ports_given{$port}++;
    }
    die 'no free port';
}

# one node per shard, keys made with walrusctl keygen; the gateway's key
# keys/gateway.key is the committee's publisher (unless publishers => 0)
sub make_committee {
    my ($self) = @_;
    my $dir = $self->{dir};
    my @nodes;

    run_quiet($CTL, 'keygen', "$dir/keys/gateway")
        or die "walrusctl keygen failed";
    my $publishers = $self->{publishers}
        ? ',"publishers":[{"name":"gateway",'
          . '"public_key_file":"keys/gateway.pub"}]'
        : '';

    for my $i (0 .. $self->nodes - 1) {
        my $key = "$dir/keys/node$i";
        run_quiet($CTL, 'keygen', $key) or die "walrusctl keygen failed";
        make_path($self->store($i));
        chown_worker($self->store($i));
        next if $i >= $self->{n};
        push @nodes, sprintf '{"name":"node%d","url":"%s","shards":[%d],'
            . '"public_key_file":"keys/node%d.pub"}', $i, $self->node_url($i),
            $i, $i;
    }

    write_file($self->committee,
               sprintf('{"epoch":%d,"n_shards":%d,"segment_size":%d,'
                       . '"nodes":[%s]%s}', $self->{epoch}, $self->{n},
                       $self->{segment_size}, join(',', @nodes),
                       $publishers));
}

# A registration (docs/protocol.md section 15) of blob $id (32 bytes) of
# $length bytes, built here from the documented bytes and signed with
# openssl: key => the key's file name without .key (default the
# gateway's), epoch, end_epoch (epoch + 1), deletable (1).
sub registration {
    my ($self, $id, $length, %opt) = @_;
    my $dir = $self->{dir};
    my $key = ($opt{key} // "$dir/keys/gateway") . '.key';
    my $epoch = $opt{epoch} // $self->{epoch};

    my $der = `openssl pkey -in $key -pubout -outform DER`;
    die "openssl pkey $key failed" if $? || length $der != 44;

    my $msg = 'walrus-register:1'
        . pack('V a32 Q< V C a32', $epoch, $id, $length,
               $opt{end_epoch} // $epoch + 1, $opt{deletable} // 1,
               substr($der, 12));
    write_file("$dir/registration.msg", $msg);
    my $sig = `openssl pkeyutl -sign -rawin -inkey $key \\
               -in $dir/registration.msg`;
    die "openssl pkeyutl failed" if $? || length $sig != 64;

    return $msg . $sig;
}

# registers blob $id_text of $length bytes on the nodes @nodes (default:
# all) with the gateway's key, as a gateway would before its uploads
sub register {
    my ($self, $id_text, $length, @nodes) = @_;
    my $reg = $self->registration(WalrusTest::Proto::unb64url($id_text),
                                  $length);
    @nodes = (0 .. $self->{n} - 1) unless @nodes;

    for my $i (@nodes) {
        my $res = $self->node_request($i, 'PUT',
                                      "/v1/blobs/$id_text/registration",
                                      $reg);
        die "node$i refused the registration of $id_text: $res->{content}"
            unless $res->{status} == 200 || $res->{status} == 201;
    }
}

# workers run as nobody when the master runs as root
sub chown_worker {
    my ($path) = @_;
    return if $> != 0;
    my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
    chown $uid, $gid, $path;
}

sub run_quiet {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or exit 127;
    }
    waitpid $pid, 0;
    return $? == 0;
}

# runs a command, its output into files in $dir: stdin from $opt->{stdin}
# (else /dev/null), in $opt->{cwd} if given, $WALRUS_COMMITTEE set to
# $opt->{env} (else unset); returns (exit code, stdout, stderr)
sub capture {
    my ($opt, $dir, @cmd) = @_;
    my ($out, $err) = ("$dir/.stdout", "$dir/.stderr");

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', $opt->{stdin} // '/dev/null' or exit 126;
        open STDOUT, '>', $out or exit 126;
        open STDERR, '>', $err or exit 126;
        chdir $opt->{cwd} or exit 126 if defined $opt->{cwd};
        local %ENV = %ENV;
        delete $ENV{WALRUS_COMMITTEE};
        $ENV{WALRUS_COMMITTEE} = $opt->{env} if defined $opt->{env};
        exec @cmd or exit 127;
    }

    waitpid $pid, 0;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;

    return ($rc, read_file($out) // '', read_file($err) // '');
}

sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $content;
    close $fh or die "$path: $!";
}

# one HTTP message with a Content-Length (or none) from a socket: its
# head and its body, or an empty list when the peer closed first
sub read_message {
    my ($sock) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $got = sysread $sock, $head, 65536, length $head;
        return unless $got;
    }
    my ($h, $body) = split /\r\n\r\n/, $head, 2;
    my ($len) = $h =~ /^Content-Length:\s*(\d+)/mi;
    $len //= 0;
    while (length $body < $len) {
        my $got = sysread $sock, $body, $len - length $body, length $body;
        return unless $got;
    }
    return ($h, $body);
}

# empties a directory (a store, a blob's) that a node's keeper may be
# writing into: again until it is empty
sub wipe {
    my ($path) = @_;
    for (1 .. 20) {
        remove_tree($path, { keep_root => 1, error => \my $err });
        return unless @$err;
        sleep 0.05;
    }
    die "cannot wipe $path";
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    return scalar <$fh>;
}

# --- the nginx configuration ------------------------------------------------
#
# write_config writes nginx.conf from the test's own configuration text
# and a generated frame around it.  The frame, the same in every test:
#
#   load_module <the module>; pid, error_log (info), thread_pool default
#   events { worker_connections 8192; }
#   http {
#       log_format walrus; access_log; *_temp_path under DIR/tmp;
#       walrus_committee DIR/committee.json;   # or committee => PATH
#       <http text>
#       upstream walrus_node<i> { server 127.0.0.1:<node i>; keepalive 8; }
#       server {                    # the gateway, with gateway => ...
#           listen 127.0.0.1:<gateway port>; access_log;
#           client_max_body_size 1g; client_body_buffer_size 256k;
#           <gateway text>
#           location /_walrus_node/ { ... }      # $NODE_PROXY, see below
#       }
#       server {                    # node i, for each node not down
#           listen 127.0.0.1:<node i port>; access_log;
#           client_max_body_size 1g; client_body_buffer_size 256k;
#           <node text>
#           location /_walrus_node/ { ... }      # peer calls of its keeper
#       }
#   }
#
# The texts come from the test file, where they read as what the test
# runs: gateway => TEXT (the gateway server's locations; 1 for
# $GATEWAY_LOCATION), node => TEXT (each node server's locations, default
# $NODE_LOCATION; or a function of the node's index giving them), http
# => TEXT, main => TEXT.  Placeholders in them:
#
#   %%DIR%%            the test directory (keys/, store<i>/, tmp/, logs/)
#   %%GATEWAY_PORT%%   the gateway's port
#   %%NODE_PORT_<i>%%  node i's port (the committee's)
#   %%REDIS_PORT%%     the port of start_redis
#   %%NODE%%           in node text: the node's index
#
# The internal location is added to the gateway's and each node's server
# unless the text has its own "location /_walrus_node/".

our $GATEWAY_LOCATION = <<'END';
        location / {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
END

# (seven nodes share one worker here: their scrubbers read 1 MB/s each,
# not the default 8, so that they do not slow the gateway under test)
our $NODE_LOCATION = <<'END';
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;
            walrus_node_scrub_rate 1m;
        }
END

# the location the gateway's requests to nodes go through
our $NODE_PROXY = <<'END';
        location /_walrus_node/ {
            internal;
            proxy_pass http://walrus_$walrus_node$walrus_node_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Range $walrus_node_range;
            proxy_buffering off;
            sendfile on;
            proxy_connect_timeout 2s;
            proxy_send_timeout 10s;
            proxy_read_timeout 10s;
            proxy_next_upstream off;
            %%NODE_PROXY_EXTRA%%
        }
END

# the placeholders of configuration text filled in
sub expand {
    my ($self, $text, %more) = @_;
    my %value = (DIR => $self->{dir}, GATEWAY_PORT => $self->gateway_port,
                 %more);
    $text =~ s{%%NODE_PORT_(\d+)%%}{
        $1 < $self->nodes ? $self->node_port($1)
                        : die "no node $1 for %%NODE_PORT_$1%%\n"
    }ge;
    $text =~ s{%%REDIS_PORT%%}{$self->redis_port}ge;
    $text =~ s{%%(\w+)%%}{
        exists $value{$1} ? $value{$1} : die "unknown placeholder %%$1%%\n"
    }ge;
    return $text;
}

# node i's server: $locations (node text, default $NODE_LOCATION), or
# the default location with $extra in it; $server_extra before them
sub node_server {
    my ($self, $i, $extra, $server_extra, $locations) = @_;
    $extra //= '';
    $server_extra //= '';
    my $port = $self->node_port($i);
    my $dir = $self->{dir};

    $locations = $locations->($i) if ref $locations eq 'CODE';
    if (!defined $locations) {
        $locations = $NODE_LOCATION;
        $locations =~ s/^( *)\}\s*\z/$1    $extra\n$1}\n/m if $extra ne '';
    }
    $locations .= $NODE_PROXY
        unless $locations =~ m{location\s+/_walrus_node/};
    $locations = $self->expand($locations, NODE => $i,
                               NODE_PROXY_EXTRA => '');

    return <<"END";
    server {
        listen 127.0.0.1:$port;
        access_log $dir/logs/node$i.access.log walrus;
        client_max_body_size 1g;
        client_body_buffer_size 256k;
        $server_extra

$locations    }
END
}

# PUTs a blob through the gateway: its ID, newly created or already
# certified, or undef
sub put_blob {
    my ($self, $content) = @_;
    my $res = $self->request('PUT', $self->gateway_url . '/v1/blobs',
                             $content);
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    return $d->{newlyCreated}{blobObject}{blobId}
        // $d->{alreadyCertified}{blobId};
}

# the gateway server: upstreams of the nodes, the gateway's locations
# ($locations, or $GATEWAY_LOCATION with $extra in it) and the internal
# location its requests to nodes go through
sub gateway_server {
    my ($self, $extra, $node_location_extra, $locations) = @_;
    my $dir = $self->{dir};
    my $port = $self->gateway_port;
    $extra //= '';
    if (!defined $locations) {
        $locations = $GATEWAY_LOCATION;
        $locations =~ s/^( *)\}\s*\z/$1    $extra\n$1}\n/m if $extra ne '';
    }
    $locations .= $NODE_PROXY
        unless $locations =~ m{location\s+/_walrus_node/};
    $locations = $self->expand($locations,
                               NODE_PROXY_EXTRA => $node_location_extra // '');

    return <<"END";
    server {
        listen 127.0.0.1:$port;
        access_log $dir/logs/gateway.access.log walrus;
        client_max_body_size 1g;
        client_body_buffer_size 256k;

$locations    }
END
}

# writes nginx.conf (see above): the nodes (unless nodes => 0; down =>
# [i, ...]: no server on those nodes' ports), the gateway (gateway => 1
# or its text), the main and http texts, and workers => N worker
# processes (default 1).  The older options
# gateway_extra, node_extra (directives in the default locations),
# node_location_extra (in the internal location) and node_server_extra
# => { i => config } (server level) still work.  committee => PATH
# names another committee file or directory (a committee history).
sub write_config {
    my ($self, %opt) = @_;
    my $dir = $self->{dir};
    my $servers = '';
    my $committee = $opt{committee} // "$dir/committee.json";
    $opt{$_} //= '' for qw(main http gateway_extra node_location_extra);
    $opt{$_} = $self->expand($opt{$_}) for qw(main http);

    if ($opt{redis}) {
        $opt{http} .= "    walrus_redis 127.0.0.1:" . $self->redis_port
            . ";\n";
    }

    if ($opt{gateway}) {
        my $text = $opt{gateway} =~ /\D/ ? $opt{gateway} : undef;
        $servers .= $self->gateway_server($opt{gateway_extra},
                                          $opt{node_location_extra}, $text);
        $self->{extra_ports} = [ $self->gateway_port ];
    }

    # the upstreams of the nodes: the gateway's and the nodes' peer calls
    for my $i (0 .. $self->nodes - 1) {
        $servers .= "    upstream walrus_node$i {\n"
            . "        server 127.0.0.1:" . $self->node_port($i) . ";\n"
            . "        keepalive 8;\n    }\n";
    }

    my %down = map { $_ => 1 } @{$opt{down} // []};
    unless (defined $opt{nodes} && !$opt{nodes}) {
        for my $i (0 .. $self->nodes - 1) {
            next if $down{$i};
            $servers .= $self->node_server($i, $opt{node_extra},
                                           $opt{node_server_extra}{$i},
                                           $opt{node});
        }
    }
    $self->{down} = \%down;

    my $workers = $opt{workers} // 1;
    # a worker that crashes leaves its core in DIR/core (kept with the
    # directory under WALRUS_KEEP=1), for gdb
    make_path("$dir/core");
    chown_worker("$dir/core");
    my $process = $self->{valgrind}
        ? "master_process off;\ndaemon off;\n"
        : "daemon on;\nworker_processes $workers;\n"
          . "worker_rlimit_core 2g;\nworking_directory $dir/core;\n";

    my $conf = <<"END";
load_module $MODULE;
$process
pid $dir/logs/nginx.pid;
error_log $dir/logs/error.log info;
thread_pool default threads=4;
$opt{main}

events {
    worker_connections 8192;
}

http {
    log_format walrus '\$request_method \$uri \$status \$body_bytes_sent "\$http_range"';
    access_log $dir/logs/access.log walrus;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    walrus_committee $committee;
$opt{http}
$servers
}
END
    make_path("$dir/tmp");
    write_file("$dir/nginx.conf", $conf);
    return $self;
}

# --- a gateway of its own -----------------------------------------------------

# starts a second nginx in DIR/$name/ with one gateway (the default
# locations, the gateway key) on a port of its own, the upstreams of all
# the nodes, and walrus_committee $committee: a gateway whose committee
# history is not the nodes'.  Options: http => TEXT at the http level,
# gateway_extra => directives in its location (both with placeholders),
# redis => 1: walrus_redis on start_redis's Redis.
# Returns its URL; stop_gateway($name) stops it and checks its error log
# like stop.
sub start_gateway {
    my ($self, $name, $committee, %opt) = @_;
    my $dir = $self->{dir};
    my $home = "$dir/$name";
    my $port = free_port();
    make_path("$home/logs", "$home/tmp");
    chown_worker("$home/tmp");
    my $http = $self->expand($opt{http} // '');

    my $server = $self->gateway_server($opt{gateway_extra});
    my $gw = $self->gateway_port;
    $server =~ s/listen 127\.0\.0\.1:$gw;/listen 127.0.0.1:$port;/
        or die 'no gateway listen';
    $server =~ s{\Q$dir\E/logs/gateway\.access\.log}{$home/logs/access.log};
    my $redis = $opt{redis}
        ? "    walrus_redis 127.0.0.1:" . $self->redis_port . ";\n" : '';
    my $upstreams = join '', map {
        "    upstream walrus_node$_ {\n"
        . "        server 127.0.0.1:" . $self->node_port($_) . ";\n"
        . "        keepalive 8;\n    }\n"
    } 0 .. $self->nodes - 1;

    write_file("$home/nginx.conf", <<"END");
load_module $MODULE;
daemon on;
worker_processes 1;
pid $home/logs/nginx.pid;
error_log $home/logs/error.log info;
thread_pool default threads=4;

events {
    worker_connections 1024;
}

http {
    log_format walrus '\$request_method \$uri \$status \$body_bytes_sent "\$http_range"';
    client_body_temp_path $home/tmp/body;
    proxy_temp_path $home/tmp/proxy;
    fastcgi_temp_path $home/tmp/fastcgi;
    uwsgi_temp_path $home/tmp/uwsgi;
    scgi_temp_path $home/tmp/scgi;

    walrus_committee $committee;
$http
$redis$upstreams
$server
}
END
    my $out = do {
        local %ENV = (%ENV, $self->sanitizer_env);
        `$NGINX -p $home/ -c $home/nginx.conf -e $home/logs/error.log 2>&1`;
    };
    die "the gateway $name did not start: $out" if $?;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port);
        sleep 0.05;
    }
    $self->{gateways}{$name} = $home;
    return "http://127.0.0.1:$port";
}

# the master and workers of gateway $name killed with SIGKILL, as a
# crashed host would leave them: no error log check, nothing to stop
sub kill_gateway {
    my ($self, $name) = @_;
    my $home = delete $self->{gateways}{$name} or return;
    my $pid = read_file("$home/logs/nginx.pid") // return;
    chomp $pid;
    my @workers = split ' ', `pgrep -P $pid`;
    kill 'KILL', $pid, @workers;
    for (1 .. 200) {
        last unless grep { kill 0, $_ } $pid, @workers;
        sleep 0.05;
    }
}

# conf.d/$file as a test runs it: each literal $from of the pairs
# ($from => $to, ...) replaced by $to (the recipe's ports, paths and
# sizes by the test's).  A $from the file lacks dies, so that a recipe
# and its test do not drift apart.
sub recipe {
    my ($self, $file, @subst) = @_;
    my $text = read_file("$ROOT/conf.d/$file") // die "no conf.d/$file\n";
    while (my ($from, $to) = splice @subst, 0, 2) {
        $text =~ s/\Q$from\E/$to/g or die "conf.d/$file has no \"$from\"\n";
    }
    return $text;
}

# HUP to the gateway's nginx (its committee history may have a new
# epoch): returns once its health answers epoch $epoch
sub reload_gateway {
    my ($self, $name, $url, $epoch) = @_;
    my $home = $self->{gateways}{$name} or die "no gateway $name";
    my $pid = read_file("$home/logs/nginx.pid") // '';
    chomp $pid;
    kill 'HUP', $pid or return 0;
    return eventually(sub {
        my $res = $self->request('GET', "$url/v1/health");
        my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
        ($d->{success}{data}{epoch} // -1) == $epoch;
    }, 20);
}

sub stop_gateway {
    my ($self, $name) = @_;
    my $home = delete $self->{gateways}{$name} or return;
    my $pid = read_file("$home/logs/nginx.pid") // '';
    chomp $pid;
    return unless $pid;
    kill 'QUIT', $pid;
    for (1 .. 600) {
        last unless kill 0, $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid if kill 0, $pid;
    my @bad = grep { /\[(alert|crit|emerg)\]/ || /exited on signal/
                     || /open socket #/ }
              split /\n/, read_file("$home/logs/error.log") // '';
    ok(!@bad, "no alerts or crashes in the error log of gateway $name")
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

# nginx -t: (passed, output)
sub test_config {
    my ($self) = @_;
    my $dir = $self->{dir};
    local %ENV = (%ENV, $self->sanitizer_env);
    my $out = `$NGINX -p $dir/ -c $dir/nginx.conf -e $dir/logs/error.log -t 2>&1`;
    return ($? == 0, $out);
}

# the environment nginx runs in with a sanitized module: the runtime
# comes first (nginx itself is not instrumented), and every report goes
# to a file check_logs looks for.  nginx keeps its own memory until it
# exits, so leaks are valgrind's job, not LeakSanitizer's.
sub sanitizer_env {
    my ($self) = @_;
    return () unless $SANITIZE;
    my $dir = "$self->{dir}/sanitizer";
    make_path($dir);
    chmod 0777, $dir;
    my ($asan, $ubsan) = map { my $p = `cc -print-file-name=$_`; chomp $p; $p }
                         qw(libasan.so libubsan.so);
    return (LD_PRELOAD => "$asan $ubsan",
            ASAN_OPTIONS => "log_path=$dir/asan:detect_leaks=0"
                . ':abort_on_error=1',
            UBSAN_OPTIONS => "log_path=$dir/ubsan:print_stacktrace=1"
                . ':halt_on_error=1');
}

sub run {
    my ($self) = @_;
    my $dir = $self->{dir};

    my ($passed, $out) = $self->test_config;
    if (!$passed) {
        diag($out);
        BAIL_OUT('nginx -t failed');
    }

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        %ENV = (%ENV, $self->sanitizer_env);
        my @cmd = ($NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf",
                   '-e', "$dir/logs/error.log");
        if ($self->{valgrind}) {
            unshift @cmd, 'valgrind', '-q', '--tool=memcheck',
                '--leak-check=full', '--show-possibly-lost=no',
                '--keep-debuginfo=yes',
                '--errors-for-leak-kinds=definite',
                "--suppressions=$ROOT/t/valgrind.supp",
                "--log-file=$dir/logs/valgrind.log";
        }
        exec @cmd or exit 127;
    }

    if ($self->{valgrind}) {
        $self->{pid} = $pid;
    } else {
        waitpid $pid, 0;
        die "nginx failed to start" if $? != 0;
    }

    $self->wait_ready;
    return $self;
}

sub wait_ready {
    my ($self) = @_;
    my $deadline = time + ($self->{valgrind} ? 60 : 10);
    my @ports = grep { !$self->{down}{$_} } 0 .. $self->nodes - 1;
    @ports = map { $self->node_port($_) } @ports;
    push @ports, @{$self->{extra_ports} // []};

    for my $port (@ports) {
        until (IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port)) {
            die "nginx did not listen on $port" if time > $deadline;
            sleep 0.05;
        }
    }

    until (-s "$self->{dir}/logs/nginx.pid") {
        die "no nginx pid file" if time > $deadline;
        sleep 0.05;
    }
}

sub master_pid {
    my ($self) = @_;
    my $pid = read_file("$self->{dir}/logs/nginx.pid") // return;
    chomp $pid;
    return $pid;
}

sub stop {
    my ($self) = @_;
    my $pid = $self->master_pid or return;

    kill 'QUIT', $pid;
    my $deadline = time + ($self->{valgrind} ? 120 : 30);

    while (kill(0, $pid) && time < $deadline) {
        waitpid($self->{pid}, WNOHANG) if $self->{pid};
        sleep 0.05;
    }

    if (kill 0, $pid) {
        fail('nginx stops within its deadline');
        $self->show_stacks($pid);
        kill 'KILL', $pid;
    }

    waitpid($self->{pid}, 0) if $self->{pid};
    unlink "$self->{dir}/logs/nginx.pid";
    $self->check_logs;
}

# where a hung nginx is: under valgrind an abort makes valgrind log the
# stack (check_logs shows valgrind.log), else gdb prints every thread's
sub show_stacks {
    my ($self, $master) = @_;

    if ($self->{valgrind}) {
        kill 'ABRT', $master;
        my $deadline = time + 30;
        sleep 0.1 while kill(0, $master) && time < $deadline;
        return;
    }

    for my $pid ($master, $self->worker_pids) {
        my $bt = `timeout 60 gdb -batch -p $pid -ex 'thread apply all bt' 2>&1`;
        my @lines = grep { /^(Thread|#)/ } split /\n/, $bt;
        diag("stacks of process $pid:\n"
             . join "\n", @lines[0 .. ($#lines < 199 ? $#lines : 199)]);
    }
}

sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid or return;
    return $master if $self->{valgrind};
    my @pids = split ' ', `pgrep -P $master`;
    return @pids;
}

# peak resident memory of a process, in KiB
sub peak_rss {
    my ($pid) = @_;
    my $status = read_file("/proc/$pid/status") // '';
    return $status =~ /^VmHWM:\s+(\d+)/m ? $1 : 0;
}

# restart keeps the directory: stop, then run again
sub restart {
    my ($self) = @_;
    $self->stop;
    $self->run;
}

sub check_logs {
    my ($self) = @_;
    my $log = read_file($self->error_log) // '';
    my @allowed = @{$self->{allowed} // []};
    my @bad = grep {
        my $line = $_;
        (/\[(alert|crit|emerg)\]/ || /exited on signal/ || /open socket #/
         || /Sanitizer/ || /request count is zero/)
        && !grep { $line =~ $_ } @allowed
    } split /\n/, $log;

    ok(!@bad, 'no alerts, crashes or leaks in error.log')
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)],
                map { "core dumped: $_ (kept with WALRUS_KEEP=1)" }
                glob "$self->{dir}/core/core*");

    if ($self->{valgrind}) {
        my $vg = read_file("$self->{dir}/logs/valgrind.log") // '';
        is($vg, '', 'valgrind reports nothing') or diag($vg);
    }

    if ($SANITIZE) {
        my @reports = glob "$self->{dir}/sanitizer/*";
        my $text = join '', map { read_file($_) // '' } @reports;
        is($text, '', 'the sanitizers report nothing')
            or diag(substr $text, 0, 4000);
        unlink @reports;
    }

    # the log is checked once per run: error.log.0, .1, ... are the
    # logs of the runs before
    $self->{log_gen} //= 0;
    rename $self->error_log, $self->error_log . '.' . $self->{log_gen}++;
}

# a line check_logs lets pass although it is an emerg: what a test made
# happen on purpose (a reload onto a bad configuration)
sub allow_log {
    my ($self, $re) = @_;
    push @{$self->{allowed}}, $re;
}

# --- the error log since a mark ----------------------------------------------

# a point in the error log: log_since gives what was written after it,
# across restarts
sub log_mark {
    my ($self) = @_;
    return [ $self->{log_gen} // 0, -s $self->error_log // 0 ];
}

sub log_since {
    my ($self, $mark) = @_;
    my ($gen, $offset) = @$mark;
    my $now = $self->{log_gen} // 0;
    my $text = '';

    for my $g ($gen .. $now) {
        my $file = $g < $now ? $self->error_log . ".$g" : $self->error_log;
        my $log = read_file($file) // '';
        $text .= $g == $gen ? substr($log, $offset < length $log
                                           ? $offset : length $log)
                            : $log;
    }
    return $text;
}

# the lines of the error log after the mark that match $re
sub log_lines {
    my ($self, $mark, $re) = @_;
    return grep { $_ =~ $re } split /\n/, $self->log_since($mark);
}

sub DESTROY {
    my ($self) = @_;
    for my $home (values %{$self->{gateways} // {}}) {
        my $pid = read_file("$home/logs/nginx.pid") // '';
        chomp $pid;
        kill 'KILL', $pid if $pid;
    }
    $self->stop if $self->master_pid && kill(0, $self->master_pid);
    $self->stop_redis;
}

# --- relays in front of nodes ----------------------------------------------

# the nodes' servers (all, or those named) on ports of their own, so
# that relays can take the committee's ports: (config of the servers,
# their ports by node index)
sub moved_nodes {
    my ($self, @nodes) = @_;
    my ($conf, @real) = ('');

    for my $i (@nodes ? @nodes : 0 .. $self->{n} - 1) {
        $real[$i] = free_port();
        my $server = $self->node_server($i);
        my $port = $self->node_port($i);
        $server =~ s/listen 127\.0\.0\.1:$port;/listen 127.0.0.1:$real[$i];/
            or die 'cannot move the node';
        $conf .= $server;
    }

    return ($conf, @real);
}

# forks a relay on node i's committee port: each connection is served by
# $serve->($socket) in a process of its own; returns the relay's pid
sub start_relay {
    my ($self, $i, $serve) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $self->node_port($i),
                                  Listen => 64, ReuseAddr => 1)
        or die "relay $i: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return $pid;
    }
    $SIG{CHLD} = 'IGNORE';
    $SIG{PIPE} = 'IGNORE';
    while (my $c = $l->accept) {
        my $kid = fork // die "fork: $!";
        if ($kid == 0) {
            $c->autoflush(1);
            $serve->($c);
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

# the request sent to 127.0.0.1:$port on a connection of its own: the
# whole answer, kept alive for the relay's client, or '' when none came
sub forward {
    my ($port, $h, $body) = @_;
    $h =~ s/^Connection:[^\r]*\r\n//mig;
    my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port) or return '';
    print $u "$h\r\nConnection: close\r\n\r\n$body";
    my $answer = do { local $/; <$u> } // '';
    $answer =~ s/^Connection: close\r$/Connection: keep-alive\r/mi;
    return $answer;
}

# --- Redis ---------------------------------------------------------------

sub redis_port {
    my ($self) = @_;
    $self->{redis_port} //= free_port();
    return $self->{redis_port};
}

sub start_redis {
    my ($self, @extra) = @_;
    my $port = $self->redis_port;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$self->{dir}/logs/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
            '--save', '', '--appendonly', 'no', '--dir', $self->{dir},
            @extra or exit 127;
    }
    $self->{redis_pid} = $pid;
    $self->{redis_auth} = { @extra }->{'--requirepass'};
    for (1 .. 100) {
        my $r = eval { $self->redis('PING') } // '';
        return $self if $r eq 'PONG';
        sleep 0.05;
    }
    die 'redis-server did not start';
}

sub stop_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

# one command over RESP (after AUTH and SELECT db when set); returns the
# reply (array ref for arrays)
sub redis {
    my ($self, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->redis_port,
                                  Timeout => 2) or die "redis: $!";
    my @cmds = ([@args]);
    unshift @cmds, ['SELECT', $self->{redis_db}] if $self->{redis_db};
    unshift @cmds, ['AUTH', $self->{redis_auth}] if $self->{redis_auth};
    my $reply;
    for my $cmd (@cmds) {
        print $s '*' . @$cmd . "\r\n"
            . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$cmd);
        $reply = resp_read($s);
    }
    close $s;
    return $reply;
}

sub resp_read {
    my ($s) = @_;
    my $line = <$s> // die 'redis: no reply';
    $line =~ s/\r\n$//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+' || $type eq ':';
    die "redis: $rest" if $type eq '-';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $data = '';
        read($s, $data, $rest + 2);
        return substr($data, 0, $rest);
    }
    return [ map { resp_read($s) } 1 .. $rest ] if $type eq '*';
    die "redis: bad reply $line";
}

# walrusctl's encoding of $blob, what the nodes must hold of it, kept in
# DIR/enc<k>: its blob ID
sub encode {
    my ($self, $blob) = @_;
    my $dir = $self->{dir};
    my $k = scalar keys %{$self->{encoded} //= {}};
    write_file("$dir/blob$k.bin", $blob);
    my $id = `$CTL -c $dir/committee.json encode $dir/blob$k.bin $dir/enc$k`;
    die "walrusctl encode failed" if $?;
    chomp $id;
    $self->{encoded}{$id} = "$dir/enc$k";
    return $id;
}

# whether node i holds the sliver pair of shard $shard (default i) and the
# metadata of blob $id, byte for byte those of $t->encode, with its
# certificate and registration
sub holds {
    my ($self, $i, $id, $shard) = @_;
    my $store = $self->store($i) . "/$id";
    my $enc = $self->{encoded}{$id} // die "blob $id was not encoded";
    my $k = WalrusTest::Proto::shard_to_pair(WalrusTest::Proto::unb64url($id),
                                             $self->{n}, $shard // $i);
    return 0 unless -e "$store/certificate" && -e "$store/registration";
    for my $f ('metadata', "$k.primary", "$k.secondary") {
        my $have = read_file("$store/$f");
        return 0 unless defined $have && $have eq read_file("$enc/$f");
    }
    return 1;
}

# stores blob $id of $length bytes on every node directly, as a writer
# that bypasses the gateway would: its registration, the metadata and
# each node's sliver pair from the files in $files ($t->encode's, by
# default, or bad_parity's), then the certificate of every confirmation;
# returns the number of nodes that confirmed
sub store_directly {
    my ($self, $id, $length, $files) = @_;
    my $n = $self->{n};
    my $raw = WalrusTest::Proto::unb64url($id);
    my @signers;
    $files //= $self->{encoded}{$id} // die "blob $id was not encoded";

    $self->register($id, $length);
    for my $i (0 .. $n - 1) {
        my $k = WalrusTest::Proto::shard_to_pair($raw, $n, $i);
        $self->node_request($i, 'PUT', "/v1/blobs/$id/metadata",
                            read_file("$files/metadata"));
        for my $axis (qw(primary secondary)) {
            $self->node_request($i, 'PUT', "/v1/blobs/$id/slivers/$k/$axis",
                                read_file("$files/$k.$axis"));
        }
        my $c = eval { JSON::PP->new->decode($self->node_request($i, 'GET',
                           "/v1/blobs/$id/confirmation")->{content}) };
        push @signers, [$i, WalrusTest::Proto::unb64url(
                                $c->{success}{data}{signed}{signature})]
            if $c;
    }
    my $cert = WalrusTest::Proto::certificate(1, $raw, @signers);
    $self->node_request($_, 'PUT', "/v1/blobs/$id/certificate", $cert)
        for 0 .. $n - 1;
    return scalar @signers;
}

# the blob ID walrusctl computes for $content
sub cli_blob_id {
    my ($self, $content) = @_;
    write_file("$self->{dir}/cli.bin", $content);
    my $id = `$CTL -c $self->{dir}/committee.json blob-id $self->{dir}/cli.bin`;
    die "walrusctl blob-id failed" if $?;
    chomp $id;
    return $id;
}

# whether $cond->() becomes true within $seconds (default 2), asked every
# 50 ms: for what happens after an answer (a cache written, a file stored)
sub eventually {
    my ($cond, $seconds) = @_;
    for (1 .. ($seconds // 2) * 20) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return 0;
}

# --- HTTP ----------------------------------------------------------------

# the samples of a metrics exposition: "name{labels}" => value; a line
# that is neither a comment nor a sample dies
sub metric_samples {
    my ($text) = @_;
    my %s;
    for (split /\n/, $text) {
        next if /^#/ || !/\S/;
        /^(\S+) (\S+)$/ or die "bad metrics line: $_";
        $s{$1} = $2;
    }
    return \%s;
}

# the samples of http://127.0.0.1:$port/metrics
sub scrape_metrics {
    my ($port) = @_;
    my $res = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
                  ->get("http://127.0.0.1:$port/metrics");
    die "metrics: $res->{status}" unless $res->{status} == 200;
    return metric_samples($res->{content});
}

# GET $path from the gateway
sub get {
    my ($self, $path, $headers) = @_;
    return $self->request('GET', $self->gateway_url . $path, undef, $headers);
}

# GET blob $id from the gateway
sub get_blob {
    my ($self, $id, $headers) = @_;
    return $self->get("/v1/blobs/$id", $headers);
}

# the reason of a JSON error answer, or ''
sub reason {
    my ($res) = @_;
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    return ref $d eq 'HASH' && ref $d->{error} eq 'HASH'
        ? $d->{error}{details}[0]{reason} // '' : '';
}

# passes when the answer is the gateway's 422 INCONSISTENT_BLOB (for a
# HEAD: its status and JSON type, without the body)
sub is_inconsistent {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return ok($res->{status} == 422
              && ($res->{headers}{'content-type'} // '') eq 'application/json'
              && (($res->{content} // '') eq ''
                  || reason($res) eq 'INCONSISTENT_BLOB'), $name)
        || diag("status $res->{status}: "
                . substr($res->{content} // '', 0, 200));
}

# $len bytes of varied data from $seed
sub blob_of {
    my ($len, $seed) = @_;
    return join '', map { chr(($_ * 37 + $seed) % 251) } 1 .. $len;
}

# passes when the answer has status $opt{status} (default 200) and
# exactly the bytes $want; else says the status, the lengths and the
# first offset where the bytes differ
sub blob_is {
    my ($res, $want, $name, %opt) = @_;
    my $status = $opt{status} // 200;
    my $got = $res->{content} // '';
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    return 1 if ok($res->{status} == $status && $got eq $want, $name);

    my $off = 0;
    my $min = length $got < length $want ? length $got : length $want;
    $off++ while $off < $min && substr($got, $off, 1) eq substr($want, $off, 1);
    diag(sprintf "status %s (expected %d), %d bytes (expected %d)%s",
         $res->{status}, $status, length $got, length $want,
         $got eq $want ? ''
         : $off < $min ? sprintf(', first difference at offset %d', $off)
         : sprintf(', equal for the first %d bytes', $min));
    diag('answer: ' . substr($got, 0, 200))
        if $res->{status} != $status && length $got < 1000;
    return 0;
}

sub request {
    my ($self, $method, $url, $body, $headers) = @_;
    my %opt = (headers => $headers // {});
    $opt{content} = $body if defined $body;
    return $self->{http}->request($method, $url, \%opt);
}

sub node_request {
    my ($self, $i, $method, $path, $body, $headers) = @_;
    return $self->request($method, $self->node_url($i) . $path, $body,
                          $headers);
}

# access log lines of node i: "METHOD URI STATUS BYTES"
sub node_access {
    my ($self, $i) = @_;
    my $log = read_file("$self->{dir}/logs/node$i.access.log") // '';
    return split /\n/, $log;
}

# the metadata requests all nodes saw: a gateway that has a blob's
# metadata from Redis or its worker memory asks none
sub metadata_gets {
    my ($self) = @_;
    my $count = 0;
    for my $i (0 .. $self->{n} - 1) {
        $count += grep { /^GET \S+\/metadata / } $self->node_access($i);
    }
    return $count;
}

1;

# --- protocol helpers ------------------------------------------------------

package WalrusTest::Proto;

use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(sha256);

# Merkle trees (docs/protocol.md section 5): a leaf, the root over leaf
# hashes, and the root that leaf `index` of `count` reaches up its proof
sub leaf { return sha256("\x00" . $_[0]) }

sub root {
    my @level = @_;
    while (@level > 1) {
        push @level, "\x00" x 32 if @level % 2;
        @level = map { sha256("\x01" . $level[2 * $_] . $level[2 * $_ + 1]) }
                 0 .. @level / 2 - 1;
    }
    return $level[0];
}

sub proof_root {
    my ($leaf, $index, $count, $proof) = @_;
    my $node = $leaf;
    while ($count > 1) {
        my $sib = substr $proof, 0, 32, '';
        $node = $index % 2 ? sha256("\x01$sib$node")
                           : sha256("\x01$node$sib");
        ($index, $count) = (int($index / 2), int(($count + 1) / 2));
    }
    return $node;
}

sub b64url {
    my $t = encode_base64($_[0], '');
    $t =~ tr{+/}{-_};
    $t =~ s/=+$//;
    return $t;
}

sub unb64url {
    my $t = $_[0];
    $t =~ tr{-_}{+/};
    $t .= '=' x ((4 - length($t) % 4) % 4);
    return decode_base64($t);
}

# blob ID bytes read as a big-endian integer, modulo n
sub id_mod {
    my ($id, $n) = @_;
    my $r = 0;
    $r = ($r * 256 + $_) % $n for unpack 'C*', $id;
    return $r;
}

sub shard_to_pair {
    my ($id, $n, $shard) = @_;
    return ($shard + $n - id_mod($id, $n)) % $n;
}

sub confirm_message {
    my ($epoch, $id) = @_;
    return 'walrus-confirm:1' . pack('V', $epoch) . $id;
}

# canonical certificate wire form from [node index, 64-byte signature]
# pairs in any order: sorted by node index (protocol section 12)
sub certificate {
    my ($epoch, $id, @signers) = @_;
    @signers = sort { $a->[0] <=> $b->[0] } @signers;
    return pack('C V a32 v', 1, $epoch, $id, scalar @signers)
        . join('', map { pack('v a64', @$_) } @signers);
}

1;
