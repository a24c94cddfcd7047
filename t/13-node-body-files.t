# Storage node: a sliver upload streams into a temporary file in the
# store, never into a request body file.  An upload cut short by kill -9
# leaves its temporary file, which the next write into that blob's
# directory removes; an upload in progress keeps it across a reload and
# completes.  Request body files left in client_body_temp_path (versions
# before the streaming kept sliver bodies there) are removed on a fresh
# start and, while nginx runs, once older than walrus_node_stale_body_time;
# a file some process still has open is kept.

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

# a 3 MB blob: its primary slivers are about 1 MB, 48 segments of 64 KiB
WalrusTest::write_file("$dir/blob.bin", WalrusTest::pattern_blob(3 * 2**20, 5));
my $id_text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/blob.bin $dir/enc`;
chomp $id_text;
my $id = $P->can('unb64url')->($id_text);
my $base = "/v1/blobs/$id_text";
my $pair = WalrusTest::Proto::shard_to_pair($id, $n, 0);
my $sliver = WalrusTest::read_file("$dir/enc/$pair.primary");
my $blob_dir = $t->store(0) . "/$id_text";

sub files_in {
    my ($root, $re) = @_;
    my @files;
    return () unless -d $root;
    File::Find::find(sub { push @files, $File::Find::name
                               if -f && $_ =~ $re }, $root);
    return sort @files;
}

sub body_files { files_in("$dir/tmp/body", qr/^\d+$/) }
sub tmp_files { files_in($blob_dir, qr/^\.tmp\.\Q$pair\E\.primary\./) }
sub body_count { my @f = body_files(); return scalar @f }
sub tmp_count { my @f = tmp_files(); return scalar @f }

# sends the header and the first half of the sliver, then waits until the
# node has stored some of it in its temporary file
sub half_upload {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->node_port(0)) or die;
    my %before = map { $_ => 1 } tmp_files();
    print $s "PUT $base/slivers/$pair/primary HTTP/1.1\r\nHost: x\r\n"
        . 'Content-Length: ' . length($sliver) . "\r\n\r\n"
        . substr($sliver, 0, length($sliver) / 2);
    my $deadline = time + 5;
    sleep 0.05 while !grep { !$before{$_} && -s $_ } tmp_files()
                     and time < $deadline;
    return $s;
}

sub finish_upload {
    my ($s) = @_;
    print $s substr($sliver, length($sliver) / 2);
    my $status = <$s> // '';
    close $s;
    return $status;
}

# each node server's location; body files older than $stale that no
# process has open are removed
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

# kills nginx and waits until its processes are reaped: the store's sweep
# takes a temporary file whose process still exists, even as a zombie,
# for a live one's
sub kill9_all {
    my @pids = ($t->worker_pids, $t->master_pid);
    kill 'KILL', @pids;
    my $deadline = time + 10;
    sleep 0.05 while time < $deadline && grep { -e "/proc/$_" } @pids;
    unlink "$dir/logs/nginx.pid";
}

# a body file as nginx names them, written $age seconds ago
my $seq = 1000000000;
sub plant_body_file {
    my ($age) = @_;
    mkdir "$dir/tmp/body";
    my $path = "$dir/tmp/body/" . $seq++;
    WalrusTest::write_file($path, 'x' x 4096);
    WalrusTest::chown_worker($path);
    utime time - $age, time - $age, $path;
    return $path;
}

start('1h');
$t->register($id_text, 3 * 2**20, 0);
is($t->node_request(0, 'PUT', "$base/metadata",
                    WalrusTest::read_file("$dir/enc/metadata"))->{status},
   201, 'metadata stored');

# --- uploads killed with nginx leave temporary files in the store ---------

my @s = map { half_upload() } 1 .. 3;
my @tmp = tmp_files();
is(scalar @tmp, 3, 'three uploads cut in half: three temporary files in '
                   . 'the store');
ok(!grep({ !-s $_ } @tmp), '... each holding the verified batches so far');
is_deeply([body_files()], [], '... and no request body file');
kill9_all();
close $_ for @s;
is(tmp_count(), 3, '... still there after kill -9 of nginx');

start('1h');
is($t->node_request(0, 'PUT', "$base/slivers/$pair/primary",
                    $sliver)->{status},
   201, 'the sliver uploaded again');
is_deeply([tmp_files()], [],
          '... and the temporary files of the killed workers are gone');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... the stored sliver has the right bytes');
unlink "$blob_dir/$pair.primary";

# --- a reload keeps an upload in progress ----------------------------------

my $s = half_upload();
is(tmp_count(), 1, 'an upload in progress has a temporary file');
my $master = $t->master_pid;
my @old = $t->worker_pids;
kill 'HUP', $master;
my $deadline = time + 10;
sleep 0.1 while time < $deadline
    && !grep { my $w = $_; !grep { $_ == $w } @old } $t->worker_pids;
is(tmp_count(), 1, '... kept across a reload');
like(finish_upload($s), qr{^HTTP/1.1 201}, '... and the upload completes');
is_deeply([tmp_files()], [], '... its temporary file now the sliver');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... with the right bytes');
$t->stop;

# --- body files left behind: a fresh start removes them --------------------

plant_body_file(10) for 1 .. 3;
is(body_count(), 3, 'three body files left behind');
my $mark = $t->log_mark;
start('1h');
is_deeply([body_files()], [], '... gone once nginx has started again');
like($t->log_since($mark),
     qr/removed 3 request body files left in/, '... which it logs');
$t->stop;

# --- while nginx runs: stale files go, open ones stay ----------------------

start('2s');
my $open_file = plant_body_file(3600);
open my $held, '<', $open_file or die "$open_file: $!";
my $stale = plant_body_file(3600);
my $fresh = plant_body_file(0);
$deadline = time + 10;
sleep 0.2 while time < $deadline && -e $stale;
ok(!-e $stale, 'a stale body file nobody has open is removed');
ok(-e $open_file, 'a body file still open is kept, however old');
ok(-e $fresh, 'a fresh one is kept');
close $held;
$deadline = time + 10;
sleep 0.2 while time < $deadline && -e $open_file;
ok(!-e $open_file, '... and the old one goes once it is closed');

# the harness fails on a worker that exited on a signal: that was ours
my $log = WalrusTest::read_file($t->error_log);
$log =~ s/^.*exited on signal 9.*\n//mg;
WalrusTest::write_file($t->error_log, $log);
$t->stop;

done_testing();
