package dist

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// mpirun returns the command that runs this test binary's test `name` as n ranks under
// Open MPI's mpirun (as root too, which Open MPI refuses unless told), or skips the test
// where mpirun is not installed.
func mpirun(t *testing.T, n int, name string) *exec.Cmd {
	t.Helper()
	if !Loadable {
		t.Skip("built without cgo: no MPI")
	}
	path, err := exec.LookPath("mpirun")
	if err != nil && os.Getenv("AIGC_REQUIRE_MPI") == "1" {
		t.Fatal("no mpirun, and AIGC_REQUIRE_MPI=1: install openmpi-bin libopenmpi-dev")
	}
	if err != nil {
		t.Skip("no mpirun (Debian: openmpi-bin libopenmpi-dev)")
	}
	cmd := exec.Command(path, "-np", fmt.Sprint(n), "--oversubscribe", "-x", "AIGC_DIST_CHILD=1",
		os.Args[0], "-test.run", "^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	return cmd
}

// Every collective across two real Open MPI processes.
func TestMPI(t *testing.T) {
	var out bytes.Buffer
	cmd := mpirun(t, 2, "TestMPIRank")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out.String())
	}
	for r := range 2 {
		if !strings.Contains(out.String(), fmt.Sprintf("rank %d of 2: collectives agree", r)) {
			t.Fatalf("rank %d did not finish:\n%s", r, out.String())
		}
	}
}

// TestMPIRank is one rank of TestMPI (it does nothing when run on its own).
func TestMPIRank(t *testing.T) {
	if os.Getenv("AIGC_DIST_CHILD") == "" {
		t.Skip("a rank of TestMPI")
	}
	if !Launched() {
		t.Fatal("not launched by mpirun")
	}
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer Stop()
	if c.Size() != 2 || World() != c || c.LocalSize() != 2 || c.LocalRank() != c.Rank() {
		t.Fatalf("rank %d of %d, local %d of %d", c.Rank(), c.Size(), c.LocalRank(), c.LocalSize())
	}
	r := float64(c.Rank())
	v := []float64{r + 1, 10 * r, 0.5}
	if err := c.AllReduce(v); err != nil || v[0] != 3 || v[1] != 10 || v[2] != 1 {
		t.Fatalf("AllReduce: %v %v", v, err)
	}
	big := make([]float32, 1<<20)
	for i := range big {
		big[i] = float32(c.Rank()*i%7) + 0.25
	}
	if err := c.AllReduce32(big); err != nil || big[5] != float32(5%7)+0.5 || big[1<<20-1] != float32((1<<20-1)%7)+0.5 {
		t.Fatalf("AllReduce32: %v, %v %v", err, big[5], big[1<<20-1])
	}
	var msg []byte
	if c.Rank() == 1 {
		msg = []byte("from rank 1, a message of some length")
	}
	got, err := BroadcastBytes(c, msg, 1)
	if err != nil || string(got) != "from rank 1, a message of some length" {
		t.Fatalf("BroadcastBytes: %q %v", got, err)
	}
	ws := [][]float32{{float32(c.Rank()), 2}, {3}}
	if err := BroadcastFloats(c, ws, 0); err != nil || ws[0][0] != 0 || ws[1][0] != 3 {
		t.Fatalf("BroadcastFloats: %v %v", ws, err)
	}
	if any, err := Any(c, c.Rank() == 1); err != nil || !any {
		t.Fatalf("Any: %v %v", any, err)
	}
	if err := Same(c, "setting", 42); err != nil {
		t.Fatal(err)
	}
	if err := Same(c, "setting", uint64(c.Rank())<<40); err == nil || err.Error() != "rank 1 has another setting than rank 0" {
		t.Fatalf("Same: %v", err)
	}
	if err := c.Barrier(); err != nil {
		t.Fatal(err)
	}
	if Spent() <= 0 {
		t.Fatal("no time counted in collectives")
	}
	fmt.Printf("rank %d of 2: collectives agree\n", c.Rank())
}

// A world of one: every collective leaves its buffers alone.
func TestSingle(t *testing.T) {
	c := World()
	v := []float64{1, 2}
	if c.Size() != 1 || c.Rank() != 0 || c.AllReduce(v) != nil || v[1] != 2 {
		t.Fatalf("%v", c)
	}
	if b, err := BroadcastBytes(c, []byte("x"), 0); err != nil || string(b) != "x" {
		t.Fatal(b, err)
	}
	if err := Same(c, "x", 1); err != nil {
		t.Fatal(err)
	}
}

// Launched by mpirun on a machine without Open MPI's library: one line saying what to do.
func TestStartWithoutMPI(t *testing.T) {
	if os.Getenv("AIGC_DIST_CHILD") != "" {
		t.Skip("a rank of TestMPI")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("AIGC_MPI_LIB", "/nonexistent/libmpi.so.40")
	c, err := Start()
	if err == nil || c != nil || !strings.HasPrefix(err.Error(), "launched by mpirun, but ") ||
		!strings.Contains(err.Error(), "Open MPI's /nonexistent/libmpi.so.40 cannot be loaded") && !strings.Contains(err.Error(), "built without cgo") {
		t.Fatalf("Start: %v", err)
	}
	if World().Size() != 1 {
		t.Fatal("the world changed")
	}
}

// torchrun's variables, when set, must agree with MPI's numbering.
func TestCheckEnv(t *testing.T) {
	t.Setenv("RANK", "1")
	t.Setenv("WORLD_SIZE", "2")
	if err := checkEnv(fakeComm{rank: 1, size: 2}); err != nil {
		t.Fatal(err)
	}
	if err := checkEnv(fakeComm{rank: 0, size: 2}); err == nil || !strings.Contains(err.Error(), "RANK=1, but MPI numbers this process 0") {
		t.Fatalf("checkEnv: %v", err)
	}
}

type fakeComm struct {
	single
	rank, size int
}

func (f fakeComm) Rank() int { return f.rank }
func (f fakeComm) Size() int { return f.size }
