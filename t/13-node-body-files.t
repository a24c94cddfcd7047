# Storage node: request body files of uploads cut short by kill -9 are
# removed on a fresh start and, while nginx runs, once they are older than
# walrus_node_stale_body_time; files of uploads in progress are kept, also
# across a reload.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Find ();
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use WalrusTest;

plan skip_all => 'valgrind runs one process' if $ENV{WALRUS_VALGRIND};

my $P = 'WalrusTest::Proto';
my $t = WalrusTest->new(n => 7);
my $n = $t->n;
my $dir = $t->dir;

# a 3 MB blob: its primary slivers are about 1 MB
WalrusTest::write_file("$dir/blob.bin", WalrusTest::pattern_blob(3 * 2**20, 5));
my $id_text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/blob.bin $dir/enc`;
chomp $id_text;
my $id = $P->can('unb64url')->($id_text);
my $base = "/v1/blobs/$id_text";
my $pair = WalrusTest::Proto::shard_to_pair($id, $n, 0);
my $sliver = WalrusTest::read_file("$dir/enc/$pair.primary");

sub body_files {
    my @files;
    File::Find::find(sub { push @files, $File::Find::name if -f },
                     "$dir/tmp/body");
    @files = sort @files;
    return @files;
}

sub body_count { my @f = body_files(); return scalar @f }

# sends the header and the first half of the sliver, then waits until
# nginx has written it to a body file
sub half_upload {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->node_port(0)) or die;
    my $before = body_count();
    print $s "PUT $base/slivers/$pair/primary HTTP/1.1\r\nHost: x\r\n"
        . 'Content-Length: ' . length($sliver) . "\r\n\r\n"
        . substr($sliver, 0, length($sliver) / 2);
    my $deadline = time + 5;
    sleep 0.05 while body_count() <= $before && time < $deadline;
    return $s;
}

sub finish_upload {
    my ($s) = @_;
    print $s substr($sliver, length($sliver) / 2);
    my $status = <$s> // '';
    close $s;
    return $status;
}

# each node server's location; body files of uploads older than $stale
# that no worker has open are removed
sub start {
    my ($stale) = @_;
    $t->write_config(node => <<"EOF")->run;
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;
            walrus_node_stale_body_time $stale;
        }
EOF
}

sub kill9_all {
    kill 'KILL', $t->worker_pids, $t->master_pid;
    sleep 0.3;
    unlink "$dir/logs/nginx.pid";
}

start('1h');
$t->register($id_text, 3 * 2**20, 0);
is($t->node_request(0, 'PUT', "$base/metadata",
                    WalrusTest::read_file("$dir/enc/metadata"))->{status},
   201, 'metadata stored');

# --- a fresh start removes the files of uploads killed with nginx ----------

my @s = map { half_upload() } 1 .. 3;
my @files = body_files();
is(scalar @files, 3, 'three uploads cut in half: three body files');
kill9_all();
close $_ for @s;
is(body_count(), 3, '... still there after kill -9 of nginx');

my $mark = $t->log_mark;
start('1h');
is_deeply([body_files()], [], '... and gone once nginx has started again');
like($t->log_since($mark),
     qr/removed 3 request body files left in/, '... which it logs');

# --- a reload keeps the files of uploads in progress -----------------------

my $s = half_upload();
is(body_count(), 1, 'an upload in progress has a body file');
my $master = $t->master_pid;
my @old = $t->worker_pids;
kill 'HUP', $master;
my $deadline = time + 10;
sleep 0.1 while time < $deadline
    && !grep { my $w = $_; !grep { $_ == $w } @old } $t->worker_pids;
is(body_count(), 1, '... kept across a reload');
like(finish_upload($s), qr{^HTTP/1.1 201}, '... and the upload completes');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... with the right bytes');
unlink $t->store(0) . "/$id_text/$pair.primary";
$t->stop;

# --- while nginx runs: files of a killed worker go after the stale time ----

start('2s');
$s = half_upload();
# an old file of an upload still in progress: kept, it is open
my ($open_file) = body_files();
utime time - 3600, time - 3600, $open_file;
sleep 2.5;
ok(-e $open_file, 'a body file still open is kept, however old');
like(finish_upload($s), qr{^HTTP/1.1 201},
     '... and its upload completes');
unlink $t->store(0) . "/$id_text/$pair.primary";

$s = half_upload();
@files = body_files();
is(scalar @files, 1, 'an upload in progress has a body file');
kill 'KILL', $t->worker_pids;
close $s;
sleep 0.5;
ok(-e $files[0], '... left behind by kill -9 of the worker');
$deadline = time + 10;
sleep 0.2 while time < $deadline && body_count();
is_deeply([body_files()], [],
          '... and removed by the new worker once stale');

# the harness fails on a worker that exited on a signal: that was ours
my $log = WalrusTest::read_file($t->error_log);
$log =~ s/^.*exited on signal 9.*\n//mg;
WalrusTest::write_file($t->error_log, $log);
$t->stop;

done_testing();
