# Storage node and a full disk: uploads that would not fit, or would go
# below walrus_node_min_free_space, are refused with 507 in JSON before
# their body is read; a write that fails for want of space answers the
# same and leaves no file.  Stores are small tmpfs mounts (needs root).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

plan skip_all => 'mounting a tmpfs needs root' if $> != 0;

my $P = 'WalrusTest::Proto';
my $t = WalrusTest->new(n => 7);
my $n = $t->n;
my $dir = $t->dir;
my $json = JSON::PP->new;
my @mounts;

# a small file system of its own for node i's store (and more)
sub mount_tmpfs {
    my ($path, $opts) = @_;
    mkdir $path;
    system('mount', '-t', 'tmpfs', '-o', $opts, 'tmpfs', $path) == 0
        or return 0;
    push @mounts, $path;
    WalrusTest::chown_worker($path);
    return 1;
}

END { system('umount', '-l', $_) for reverse @mounts }

mount_tmpfs($t->store(0), 'size=2m') or plan skip_all => 'cannot mount';
mount_tmpfs($t->store(1), 'size=4m,nr_inodes=4') or die;
mount_tmpfs("$dir/disk2", 'size=2m') or die;
mkdir "$dir/disk2/store";
WalrusTest::chown_worker("$dir/disk2/store");

# each node's location, with its limit of free space: node0 keeps 1m
# free on a 2m store, node1 none on a store of 4 inodes, node2 none on
# a 2m file system that also holds its body files, node3 more than any
# disk has; node2's store is on that file system
my %min_free = (0 => '1m', 1 => '0', 2 => '0', 3 => '100000g');
$t->write_config(node => sub {
    my ($i) = @_;
    my $store = $i == 2 ? "$dir/disk2/store" : $t->store($i);
    my $min_free = exists $min_free{$i}
                   ? "walrus_node_min_free_space $min_free{$i};" : '';
    return <<"EOF";
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store $store;
            $min_free

            # the keeper's lock and state files would take inodes and
            # space these stores count to the last one
            walrus_node_keeper off;
        }
EOF
}, node_server_extra => { 2 => "client_body_temp_path $dir/disk2/body;" });
$t->run;

# blobs encoded by walrusctl: 4 MB (slivers of about 1.4 MB and 0.8 MB)
# and 10 KB
my %blob;
for my $b ([big => 4 * 2**20], [small => 10000]) {
    my ($name, $size) = @$b;
    WalrusTest::write_file("$dir/$name.bin",
                           WalrusTest::pattern_blob($size, length $name));
    my $text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/$name.bin $dir/$name`;
    chomp $text;
    $blob{$name} = { text => $text, id => $P->can('unb64url')->($text),
                     dir => "$dir/$name", size => $size };
}

sub put {
    my ($i, $name, $what) = @_;
    my $b = $blob{$name};
    my $file = $what;
    $t->register($b->{text}, $b->{size}, $i) unless $b->{registered}{$i}++;
    if ($what =~ /^(primary|secondary)$/) {
        my $pair = WalrusTest::Proto::shard_to_pair($b->{id}, $n, $i);
        $file = "$pair.$what";
        $what = "slivers/$pair/$what";
    }
    return $t->node_request($i, 'PUT', "/v1/blobs/$b->{text}/$what",
                            WalrusTest::read_file("$b->{dir}/$file"));
}

sub error_of {
    my ($res) = @_;
    my $e = eval { $json->decode($res->{content})->{error} } || {};
    return ($e->{status} // '', $e->{details}[0]{reason} // '',
            $e->{message} // '');
}

sub files_in {
    my ($path) = @_;
    opendir my $dh, $path or return ();
    my @f = sort grep { !/^\.\.?$/ } readdir $dh;
    closedir $dh;
    return @f;
}

# --- the free-space floor --------------------------------------------------

my $res = put(0, 'big', 'metadata');
is($res->{status}, 201, 'node0 (2 MB, floor 1 MB): metadata stored');
$res = put(0, 'big', 'primary');
is($res->{status}, 507, "a 1.4 MB sliver that would go below the floor: 507") or diag($res->{content});
like($res->{headers}{'content-type'}, qr{application/json}, '... in JSON');
my ($status, $reason, $msg) = error_of($res);
is($reason, 'STORE_ERROR', '... STORE_ERROR');
is($status, 'RESOURCE_EXHAUSTED', '... RESOURCE_EXHAUSTED');
like($msg, qr/no space/, '... saying there is no space');
is_deeply([files_in($t->store(0) . "/$blob{big}{text}")],
          ['metadata', 'registration'], '... and nothing stored');
is(put(0, 'small', 'metadata')->{status}, 201, 'small uploads still fit');
is(put(0, 'small', 'primary')->{status}, 201, '... their slivers too');

$res = put(3, 'small', 'metadata');
is($res->{status}, 507, 'a floor above the free space refuses metadata');
like((error_of($res))[2], qr/no space/, '... saying there is no space');
is_deeply([files_in($t->store(3) . "/$blob{small}{text}")],
          ['registration'], '... and stores nothing but the registration');
$res = put(3, 'small', 'primary');
is($res->{status}, 507, '... and slivers');

# --- body files and store on one full file system --------------------------

is(put(2, 'big', 'metadata')->{status}, 201, 'node2: metadata stored');
is(put(2, 'big', 'primary')->{status}, 201, '... and a 1.4 MB sliver');
$res = put(2, 'big', 'secondary');
is($res->{status}, 507, 'a sliver larger than the space left: 507');
is((error_of($res))[1], 'STORE_ERROR', '... STORE_ERROR in JSON');
my $pair = WalrusTest::Proto::shard_to_pair($blob{big}{id}, $n, 2);
is_deeply([files_in("$dir/disk2/store/$blob{big}{text}")],
          [sort "$pair.primary", "metadata", "registration"],
          "... nothing more stored");

# --- a write that fails for want of space ----------------------------------

# node1's file system has inodes for its root, one blob directory and two
# files (the registration and the metadata): the next file cannot be
# created
is(put(1, 'small', 'metadata')->{status}, 201, 'node1: metadata stored');
$res = put(1, 'small', 'primary');
is($res->{status}, 507, 'no space to create the sliver file: 507');
($status, $reason, $msg) = error_of($res);
is($reason, 'STORE_ERROR', '... STORE_ERROR');
like($msg, qr/no space/i, "... saying so ($msg)");
is_deeply([files_in($t->store(1) . "/$blob{small}{text}")],
          ['metadata', 'registration'],
          '... and no file, not even a temporary one');
$res = $t->node_request(1, 'PUT', "/v1/blobs/$blob{big}{text}/registration",
                        $t->registration($blob{big}{id}, $blob{big}{size}));
is($res->{status}, 507, 'no space for the directory of another blob: 507');
like((error_of($res))[2], qr/no space/i, '... saying so');

$t->stop;
done_testing();
