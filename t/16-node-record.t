# The node's record of certified blobs (docs/protocol.md section 16) and
# GET /v1/certified, which lists it after a cursor: every certificate a
# node stores is recorded once, durably, with its registration; listings
# continue, keep to their limit and refuse bad cursors; the record
# survives restarts, a torn tail is cut off, and a failed append is an
# error that leaves no certificate behind.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use POSIX ();
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use WalrusTest;

my $t = WalrusTest->new(n => 4, segment_size => 4096);
my $n = $t->n;
my $dir = $t->dir;
my $json = JSON::PP->new;

# the gateway and four nodes, each with its default location:
#
#     location / {
#         walrus_node;
#         walrus_node_name node%%NODE%%;
#         walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
#         walrus_node_store %%DIR%%/store%%NODE%%;
#     }
# the keepers stay off: a node whose keeper syncs from its peers would
# take in their entries, and this test counts each record's own
$t->write_config(gateway => 1, http => "    walrus_node_keeper off;\n")->run;

sub log_path { $t->store($_[0]) . '/certified.log' }

sub list {
    my ($i, $query) = @_;
    return $t->node_request($i, 'GET',
                            '/v1/certified' . (defined $query ? "?$query"
                                                              : ''));
}

# walrusctl record on $bytes (a file's or a listing's): (exit code,
# [[cursor, blob ID, end epoch, verdict], ...], the "end" cursor, stderr)
sub ctl_record {
    my ($bytes, @args) = @_;
    WalrusTest::write_file("$dir/record.in", $bytes);
    my $out = `$WalrusTest::CTL -c $dir/committee.json record @args \\
               $dir/record.in 2> $dir/record.err`;
    my $rc = $? >> 8;
    my @entries = map { [ (split ' ')[0, 1, 7, 8] ] }
                  grep { /^\d+ / } split /\n/, $out;
    my ($end) = $out =~ /^end (\d+)$/m;
    return ($rc, \@entries, $end, WalrusTest::read_file("$dir/record.err"));
}

sub ids_of { join ' ', map { $_->[1] } @{$_[0]} }

# --- before any certificate ---------------------------------------------------

my $res = list(0);
is($res->{status}, 200, 'a node without a record lists nothing: 200');
is($res->{content}, '', '... an empty body');
is($res->{headers}{'x-walrus-record'}, 'none', '... X-Walrus-Record: none');
is($res->{headers}{'x-walrus-next'}, 32, '... X-Walrus-Next: 32');
$res = list(0, 'after=32');
is($res->{status}, 200, '... and after=32 is the same');
$res = list(0, 'after=100');
is($res->{status}, 400, 'any other cursor is refused: 400');
is(reason($res), 'BAD_CURSOR', '... BAD_CURSOR');
ok(!-e log_path(0), 'listing creates no record');

# --- blobs through the gateway -------------------------------------------------

my @ids;
for my $k (1 .. 3) {
    my $id = $t->put_blob(blob_of(1000 * $k + 7, $k));
    ok($id, "blob $k stored through the gateway");
    push @ids, $id;
}

# the gateway answers once f + 1 nodes stored the certificate
ok(eventually(sub {
       !grep { (list($_)->{content} // '') eq '' } 0 .. $n - 1
           and !grep { my $r = list($_);
                       my ($rc, $e) = ctl_record($r->{content});
                       @$e != 3 } 0 .. $n - 1
   }, 5), 'every node records the three certificates');

my %listing;
for my $i (0 .. $n - 1) {
    $res = list($i);
    $listing{$i} = $res->{content};
    my $h = $res->{headers};
    my ($rc, $entries, $end, $err) = ctl_record($res->{content});

    subtest "node$i lists its record" => sub {
        is($res->{status}, 200, 'status 200');
        is($h->{'content-type'}, 'application/octet-stream', 'octet-stream');
        like($h->{'x-walrus-record'}, qr/^[0-9a-f]{32}$/,
             'X-Walrus-Record: 16 bytes in hex');
        is($h->{'x-walrus-next'}, 32 + length $res->{content},
           'X-Walrus-Next: the cursor after the entries');
        is($rc, 0, 'walrusctl record verifies every entry') or diag $err;
        is(ids_of($entries), "@ids", 'the three blobs in order');
        ok(!grep({ $_->[3] ne 'valid' } @$entries), '... each valid');
        is($entries->[0][2], 2, 'the registration ends at epoch 2');
        is($end, 32 + length $res->{content}, 'walrusctl ends at Next');

        my $file = WalrusTest::read_file(log_path($i));
        is(substr($file, 0, 16), "walrus-record:1\0", 'the file header');
        is(unpack('H*', substr($file, 16, 16)), $h->{'x-walrus-record'},
           '... with the identity of the header');
        is(substr($file, 32), $res->{content},
           'the listing is the file after its header');
        my ($frc, $fentries) = ctl_record($file);
        is($frc, 0, 'walrusctl record reads the file too');
        is(ids_of($fentries), "@ids", '... the same entries');
    };
}

isnt(list(0)->{headers}{'x-walrus-record'},
     list(1)->{headers}{'x-walrus-record'}, 'each node has its own identity');

# --- continuation and limits ---------------------------------------------------

my $all = $listing{0};
my ($rc, $entries) = ctl_record($all);
my @cursors = map { $_->[0] } @$entries;
my @sizes = map { ($cursors[$_ + 1] // 32 + length $all) - $cursors[$_] }
            0 .. $#cursors;

my ($cursor, $got, $pages) = (32, '', 0);
while (1) {
    $res = list(0, "after=$cursor&limit=1");
    last if $res->{status} != 200 || $res->{content} eq '' || ++$pages > 10;
    $got .= $res->{content};
    $cursor = $res->{headers}{'x-walrus-next'};
}
is($pages, 3, 'limit=1 pages one entry at a time: three pages');
is($got, $all, '... which add up to the listing');
is($res->{status}, 200, 'at the end: 200');
is($res->{content}, '', '... empty');
is($res->{headers}{'x-walrus-next'}, $cursor, '... Next stays the cursor');

$res = list(0, 'limit=' . ($sizes[0] + $sizes[1]));
is(length $res->{content}, $sizes[0] + $sizes[1],
   'a limit of two entries gives two');
$res = list(0, 'limit=' . ($sizes[0] + $sizes[1] - 1));
is(length $res->{content}, $sizes[0], '... a byte less gives one');
is($res->{headers}{'x-walrus-next'}, $cursors[1], '... Next the second');
$res = list(0, "after=$cursors[1]&limit=100000000");
is($res->{status}, 200, 'a limit above 4 MiB is capped');
is($res->{content}, substr($all, $cursors[1] - 32), '... the rest');

$res = $t->node_request(0, 'HEAD', '/v1/certified');
is($res->{status}, 200, 'HEAD: 200');
is($res->{headers}{'content-length'}, length $all, '... the length');
is($res->{headers}{'x-walrus-next'}, 32 + length $all, '... and Next');

# --- bad requests ----------------------------------------------------------------

my $id_hex = list(0)->{headers}{'x-walrus-record'};
for my $bad (33, $cursors[1] + 4, $cursors[2] - 8, 31, 0,
             32 + length($all) + 1, 'abc', '', '-32') {
    $res = list(0, "after=$bad");
    is($res->{status}, 400, "after=$bad: 400");
    is(reason($res), 'BAD_CURSOR', '... BAD_CURSOR');
}
ok(eval { $json->decode($res->{content})->{error}{code} == 400 },
   'the error is JSON in the error model');
is(list(0, 'after=33')->{headers}{'x-walrus-record'}, $id_hex,
   'a cursor that is no entry start is refused with the identity');

for my $bad (0, 'abc', '') {
    $res = list(0, "limit=$bad");
    is($res->{status}, 400, "limit=$bad: 400");
    is(reason($res), 'BAD_LIMIT', '... BAD_LIMIT');
}

$res = $t->node_request(0, 'POST', '/v1/certified', 'x');
is($res->{status}, 405, 'POST: 405');
is($res->{headers}{allow}, 'GET, HEAD', '... Allow: GET, HEAD');
$res = $t->get('/v1/certified');
is($res->{status}, 404, 'the gateway has no /v1/certified');

# --- a certificate stored again ---------------------------------------------------

my $cert = $t->node_request(0, 'GET', "/v1/blobs/$ids[0]/certificate");
is($cert->{status}, 200, 'node0 serves the certificate of blob 1');
$res = $t->node_request(0, 'PUT', "/v1/blobs/$ids[0]/certificate",
                        $cert->{content});
is($res->{status}, 200, 'PUT of the same certificate again: 200');
is(list(0)->{content}, $all, '... the record is unchanged');
is($t->put_blob(blob_of(1007, 1)), $ids[0],
   'the same blob through the gateway again');
is(list(0)->{content}, $all, '... recorded once still');

# --- appends at the same time ---------------------------------------------------------

# eight uploads at once: the nodes' threads append together
my @kids;
for my $k (1 .. 8) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $id = $t->put_blob(blob_of(2000 + $k, 100 + $k));
        POSIX::_exit($id ? 0 : 1);
    }
    push @kids, $pid;
}
is(scalar(grep { waitpid($_, 0) == $_ && $? == 0 } @kids), 8,
   'eight blobs stored at once');
ok(eventually(sub {
       !grep { my ($rc, $e) = ctl_record(list($_)->{content});
               $rc != 0 || @$e != 11 } 0 .. $n - 1
   }, 5), '... every node records them all, each entry whole and valid');
$all = list(0)->{content};
($rc, $entries) = ctl_record($all);
@cursors = map { $_->[0] } @$entries;

# --- restart ------------------------------------------------------------------------

$t->restart;
$res = list(0);
is($res->{content}, $all, 'after a restart the record is the same');
is($res->{headers}{'x-walrus-record'}, $id_hex, '... with its identity');

# --- a torn tail --------------------------------------------------------------------

# a worker killed in the middle of an append leaves part of an entry:
# the log is cut inside its last entry
my @order0 = map { $_->[1] } @$entries;
my (undef, $e1) = ctl_record(list(1)->{content});
my @order1 = map { $_->[1] } @$e1;
my $last = $cursors[-1];
my $size = -s log_path(0);
truncate(log_path(0), $size - 10) or die "truncate: $!";
$res = list(0);
is($res->{content}, substr($all, 0, $last - 32),
   'a torn last entry is not listed');
$res = list(0, "after=$last");
is($res->{status}, 200, '... its cursor reads as the end');
is($res->{content}, '', '... empty');
($rc) = ctl_record(WalrusTest::read_file(log_path(0)));
is($rc, 1, 'walrusctl record finds the torn tail: exit 1');

my $id4 = $t->put_blob(blob_of(4321, 4));
ok($id4, 'another blob through the gateway');
ok(eventually(sub {
       my ($rc, $e) = ctl_record(WalrusTest::read_file(log_path(0)) // '');
       $rc == 0 && ids_of($e) eq "@order0[0 .. $#order0 - 1] $id4"
   }, 5), '... the tail was cut off and its entry follows the good ones');
ok(eventually(sub {
       my ($rc, $e) = ctl_record(list(1)->{content});
       ids_of($e) eq "@order1 $id4"
   }, 5), '... while node1 records all twelve');

# --- a wiped record --------------------------------------------------------------------

my $old_next = list(1)->{headers}{'x-walrus-next'};
unlink log_path(1) or die "unlink: $!";
my $id5 = $t->put_blob(blob_of(555, 5));
ok(eventually(sub { (list(1)->{content} // '') ne '' }, 5),
   'a record removed is made again at the next certificate');
$res = list(1);
isnt($res->{headers}{'x-walrus-record'}, $id_hex, '... with a new identity');
my (undef, $e5) = ctl_record($res->{content});
is(ids_of($e5), $id5, '... and the new entry alone');
$res = list(1, "after=$old_next");
is($res->{status}, 400, 'a cursor of the old record: 400');
is($res->{headers}{'x-walrus-record'}, list(1)->{headers}{'x-walrus-record'},
   '... with the new identity');

# --- an append that fails ---------------------------------------------------------------

# node2's record cannot be opened for writing: the certificate PUT fails
# and the certificate is not kept, so that a later PUT records it
rename log_path(2), log_path(2) . '.saved' or die "rename: $!";
mkdir log_path(2) or die "mkdir: $!";
my $blob6 = blob_of(666, 6);
my $id6 = $t->put_blob($blob6);
ok($id6, 'a blob is stored while node2 cannot append');
ok(eventually(sub {
       grep { m{^PUT /v1/blobs/\Q$id6\E/certificate 500 } }
           $t->node_access(2)
   }, 5), '... node2 answers its certificate PUT with 500');
is($t->node_request(2, 'GET', "/v1/blobs/$id6/certificate")->{status}, 404,
   '... and holds no certificate of it');
is(list(2)->{status}, 500, 'listing node2 fails too: 500');

$cert = $t->node_request(0, 'GET', "/v1/blobs/$id6/certificate");
$res = $t->node_request(2, 'PUT', "/v1/blobs/$id6/certificate",
                        $cert->{content});
is($res->{status}, 500, 'the certificate PUT to node2 again: 500');
is(reason($res), 'STORE_ERROR', '... STORE_ERROR');
like(eval { $json->decode($res->{content})->{error}{message} } // '',
     qr/cannot add blob \Q$id6\E to the record of certified blobs: Is a dir/,
     '... saying why');
is($t->node_request(2, 'GET', "/v1/blobs/$id6/certificate")->{status}, 404,
   '... and no certificate is kept');

rmdir log_path(2) or die "rmdir: $!";
WalrusTest::write_file(log_path(2), 'x' x 100);
WalrusTest::chown_worker(log_path(2));
$res = $t->node_request(2, 'PUT', "/v1/blobs/$id6/certificate",
                        $cert->{content});
is($res->{status}, 500, 'a record file that is no record: 500');
like(eval { $json->decode($res->{content})->{error}{message} } // '',
     qr/record of certified blobs: Bad message/, '... a bad message');

unlink log_path(2) or die "unlink: $!";
rename log_path(2) . '.saved', log_path(2) or die "rename: $!";
$res = $t->node_request(2, 'PUT', "/v1/blobs/$id6/certificate",
                        $cert->{content});
is($res->{status}, 201, 'the record back: the certificate PUT is 201');
my (undef, $e6) = ctl_record(list(2)->{content});
is($e6->[-1][1], $id6, '... and recorded');

# --- a listing behind a long answer on one connection ------------------------

# node3's record is a FIFO: the listing's task blocks opening it until the
# test opens it for writing.  The listing comes on a keep-alive connection
# right behind a sliver answer larger than the socket buffers, which the
# client reads while the task is blocked: the send buffer draining is a
# write event of the connection, and the listing's answer waits for its
# task all the same.
my $big = $t->put_blob(WalrusTest::pattern_blob(4 * 2**20, 9));
my ($big_pair) = map { m{/(\d+)\.primary$} ? $1 : () }
                 glob($t->store(3) . "/$big/*.primary");
ok(defined $big_pair, 'a blob of 4 MiB stored, with a primary sliver on '
                      . 'node3');

# node3's send buffer small and fixed, so that the sliver fills it
$t->stop;
my $conf = WalrusTest::read_file("$dir/nginx.conf");
my $port3 = $t->node_port(3);
$conf =~ s/listen 127\.0\.0\.1:$port3;/listen 127.0.0.1:$port3 sndbuf=16k;/
    or die 'no listen of node3';
WalrusTest::write_file("$dir/nginx.conf", $conf);
$t->run;

my $fifo = log_path(3);
rename $fifo, "$fifo.saved" or die "rename: $!";
POSIX::mkfifo($fifo, 0666) or die "mkfifo: $!";
chmod 0666, $fifo;

my $sock = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
setsockopt($sock, SOL_SOCKET, SO_RCVBUF, 4096) or die "setsockopt: $!";
connect($sock, pack_sockaddr_in($t->node_port(3), inet_aton('127.0.0.1')))
    or die "connect: $!";
print $sock "GET /v1/blobs/$big/slivers/$big_pair/primary HTTP/1.1\r\n"
    . "Host: x\r\n\r\nGET /v1/certified HTTP/1.1\r\nHost: x\r\n\r\n";
sleep 0.5;
my ($head, $body) = WalrusTest::read_message($sock);
like($head // '', qr{^HTTP/1.1 200}, '... the sliver, read slowly: 200');
ok(length($body // '') > 1_000_000, '... over a megabyte');
ok(!IO::Select->new($sock)->can_read(1),
   '... and the listing behind it, its task blocked: no answer yet');
open my $writer, '>', $fifo or die "$fifo: $!";
print $writer 'x' x 100;
close $writer;
($head, $body) = WalrusTest::read_message($sock);
like($head // '', qr{^HTTP/1.1 500},
     '... its answer once the task ended: 500');
like($body // '', qr/"STORE_ERROR"/, '... STORE_ERROR (a FIFO is no record)');
close $sock;
unlink $fifo or die "unlink: $!";
rename "$fifo.saved", $fifo or die "rename: $!";
is(list(3)->{status}, 200, 'with its record back node3 lists it');

$t->stop;

done_testing();
