# Storage node: a file written since it was verified (bytes flipped on
# disk, truncated, rewritten) is verified again before the node signs; one
# that fails is set aside and a good upload replaces it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use File::Temp ();
use Time::HiRes qw(sleep);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $t = WalrusTest->new(n => 7, segment_size => 4096);

# each node server's location (%%NODE%% is the node's index)
my $NODE = <<'EOF';
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;
        }
EOF
$t->write_config(node => $NODE)->run;

my $n = $t->n;
my $dir = $t->dir;
my $json = JSON::PP->new;

my $blob = WalrusTest::pattern_blob(3 * 4096 + 100, 11);
WalrusTest::write_file("$dir/blob.bin", $blob);
my $id_text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/blob.bin $dir/enc`;
chomp $id_text;
my $id = $P->can('unb64url')->($id_text);
my $base = "/v1/blobs/$id_text";
my $bdir = $t->store(0) . "/$id_text";
my $pair = WalrusTest::Proto::shard_to_pair($id, $n, 0);

sub enc { WalrusTest::read_file("$dir/enc/$_[0]") }

sub confirm { $t->node_request(0, 'GET', "$base/confirmation") }

# flips one bit of a stored file in place (a write through the file system)
sub flip {
    my ($path, $off) = @_;
    open my $fh, '+<:raw', $path or die "$path: $!";
    seek $fh, $off, 0;
    read $fh, my $c, 1;
    seek $fh, $off, 0;
    print $fh chr(ord($c) ^ 0x10);
    close $fh;
}

# the nanoseconds of a file's modification time
sub mtime_ns { (split /\./, `stat -c %.9Y $_[0]`)[1] =~ s/\s+//r }

$t->register($id_text, length $blob, 0);
my $res = $t->node_request(0, 'PUT', "$base/metadata", enc('metadata'));
is($res->{status}, 201, 'metadata stored');
for my $axis (qw(primary secondary)) {
    $res = $t->node_request(0, 'PUT', "$base/slivers/$pair/$axis",
                            enc("$pair.$axis"));
    is($res->{status}, 201, "$axis sliver stored");
}
is(confirm()->{status}, 200, 'the node confirms');

my $primary = "$bdir/$pair.primary";
my $stamp = mtime_ns($primary);
is(mtime_ns("$bdir/$pair.secondary"), $stamp,
   'verified files carry the same stamp in their modification time');

# --- a flipped bit in a stored sliver --------------------------------------

flip($primary, 5000);
my $mark = $t->log_mark;
$res = confirm();
is($res->{status}, 409, 'a sliver with a flipped bit: no confirmation');
is(reason($res), 'SLIVERS_MISSING', '... SLIVERS_MISSING');
like($json->decode($res->{content})->{error}{message}, qr/does not verify/,
     '... saying it does not verify');
ok(!-e $primary, '... the file is gone from its name');
ok(-e "$primary.bad", '... and kept as .bad');
like($t->log_since($mark), qr/\[warn\].*renamed to/,
     '... with a warning in the error log');
is($t->node_request(0, 'GET', "$base/slivers/$pair/primary")->{status}, 404,
   '... and is not served');

$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/primary",
                        enc("$pair.primary"));
is($res->{status}, 201, 'the sliver uploaded again is stored');
is(confirm()->{status}, 200, '... and the node confirms again');

# --- a re-sent sliver replaces a rotten one --------------------------------

flip($primary, 17);
$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/primary",
                        enc("$pair.primary"));
is($res->{status}, 201, 'a good upload over a file written since verified: 201');
is($json->decode($res->{content})->{success}{data}{created}, JSON::PP::true,
   '... created');
ok(WalrusTest::read_file($primary) eq enc("$pair.primary"),
   '... the stored file is the good one');
is(confirm()->{status}, 200, '... and the node confirms');

$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/primary",
                        enc("$pair.primary"));
is($res->{status}, 200, 'over a verified file: 200, kept');

my $bad = enc("$pair.primary");
substr($bad, 3, 1) = chr(ord(substr($bad, 3, 1)) ^ 1);
flip($primary, 3);
$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/primary", $bad);
is(reason($res), 'INVALID_SLIVER', 'a bad upload over a rotten file is refused');
$res = confirm();
is($res->{status}, 409, '... and the rotten file is still found out');
opendir my $dh, $bdir or die;
my @bad = grep { /\.bad$/ } readdir $dh;
closedir $dh;
is_deeply(\@bad, ["$pair.primary.bad"], 'one .bad file per name is kept');

# ... also on the copy path (body file on another file system)
$t->stop;
my $shm = File::Temp::tempdir('walrus-body-XXXXXX', DIR => '/dev/shm',
                              CLEANUP => 1);
WalrusTest::chown_worker($shm);
$t->write_config(node => $NODE, node_server_extra => { 0 => <<"EOF" })->run;
        client_body_temp_path $shm;
EOF
my $secondary = "$bdir/$pair.secondary";
flip($secondary, 40);
$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/secondary",
                        enc("$pair.secondary"));
is($res->{status}, 201, 'copied body: a good upload replaces a rotten file');
ok(WalrusTest::read_file($secondary) eq enc("$pair.secondary"),
   '... with the good bytes');
$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/primary",
                        enc("$pair.primary"));
is($res->{status}, 201, '... and stores a missing one');
is(confirm()->{status}, 200, '... and the node confirms');
$t->stop;
$t->write_config(node => $NODE)->run;

# --- a file rewritten with the same bytes is verified again ----------------

WalrusTest::write_file($primary, enc("$pair.primary"));
isnt(mtime_ns($primary), $stamp, 'a rewritten file loses its stamp');
is(confirm()->{status}, 200, '... is verified again and confirmed');
is(mtime_ns($primary), $stamp, '... and stamped again');

# --- truncated, and after a crash -------------------------------------------

truncate $secondary, 100 or die;
kill 'KILL', $t->master_pid, $t->worker_pids;
sleep 0.5;
unlink "$dir/logs/nginx.pid";
$t->run;
$res = confirm();
is($res->{status}, 409, 'a truncated sliver after kill -9 and restart: 409');
like($json->decode($res->{content})->{error}{message}, qr/does not verify/,
     '... it does not verify');
ok(-e "$secondary.bad" && !-e $secondary, '... set aside');

# --- metadata --------------------------------------------------------------

$res = $t->node_request(0, 'PUT', "$base/slivers/$pair/secondary",
                        enc("$pair.secondary"));
is($res->{status}, 201, 'the secondary sliver stored again');
flip("$bdir/metadata", 20);
$res = confirm();
is($res->{status}, 404, 'rotten metadata: no confirmation');
is(reason($res), 'METADATA_NOT_FOUND', '... METADATA_NOT_FOUND');
ok(-e "$bdir/metadata.bad", '... set aside');
$res = $t->node_request(0, 'PUT', "$base/metadata", enc('metadata'));
is($res->{status}, 201, 'the metadata stored again');
is(confirm()->{status}, 200, '... and the node confirms');

flip("$bdir/metadata", 20);
$res = $t->node_request(0, 'PUT', "$base/metadata", enc('metadata'));
is($res->{status}, 201, 'good metadata replaces metadata written since');
ok(WalrusTest::read_file("$bdir/metadata") eq enc('metadata'),
   '... byte for byte');
is(confirm()->{status}, 200, '... and the node confirms');

# --- through a gateway: PUT ?force=true repairs a rotten sliver ------------

$t->stop;
$t->write_config(node => $NODE, gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF
my $blob2 = WalrusTest::pattern_blob(20000, 12);
my $id2_text = $t->put_blob($blob2);
ok($id2_text, 'a blob stored through the gateway');
WalrusTest::write_file("$dir/blob2.bin", $blob2);
system("$WalrusTest::CTL -c $dir/committee.json encode $dir/blob2.bin "
       . "$dir/enc2 > /dev/null");
my $pair2 = WalrusTest::Proto::shard_to_pair($P->can('unb64url')->($id2_text),
                                             $n, 0);
my $file2 = $t->store(0) . "/$id2_text/$pair2.primary";
flip($file2, 100);
$res = $t->request('PUT', $t->gateway_url . '/v1/blobs?force=true', $blob2);
is($res->{status}, 200, 'PUT ?force=true of the blob again');
# the gateway answers at a quorum: node0 may still be storing
my $good2 = WalrusTest::read_file("$dir/enc2/$pair2.primary");
for (1 .. 50) {
    last if (WalrusTest::read_file($file2) // '') eq $good2;
    sleep 0.1;
}
ok(WalrusTest::read_file($file2) eq $good2,
   '... replaces the rotten sliver on the node');
is($t->node_request(0, 'GET', "/v1/blobs/$id2_text/confirmation")->{status},
   200, '... which confirms again');

$t->stop;
done_testing();
