! dlb.f90: DLB's Fortran interface, on top of dlb's C API (include/dlbrma.h).
! Compile it with your own compiler, beside your program:
!   mpif90 fortran/dlb.f90 prog.f90 $(pkg-config --cflags --libs target/release/dlbrma.pc)
! IDs are 1-based as in DLB: run jobs(1)+1 .. jobs(2) (round robin: step jobs(3)).
! DLB's interface has no error argument: an error prints dlb's message and
! stops the program with MPI_Abort.
module dlb
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_ptr, c_char, c_f_pointer, c_associated
  use mpi
  implicit none
  private
  public :: idlb_kind, DLB_THREAD_REQUIRED
  public :: dlb_init, dlb_finalize, dlb_setup, dlb_give_more
  public :: dlb_setup_color, dlb_give_more_color, dlb_setup_rr, dlb_give_more_rr
  public :: dlb_print_statistics

  integer, parameter :: idlb_kind = c_int64_t
  ! dlb uses no threads.
  integer, parameter :: DLB_THREAD_REQUIRED = MPI_THREAD_SINGLE

  interface
    ! MPI_Fint is the C type of a default INTEGER of the MPI's Fortran
    ! bindings, whatever its width.
    integer(c_int) function c_init_f(comm) bind(C, name="dlb_init_f")
      import :: c_int
      integer, value :: comm
    end function
    integer(c_int) function c_finalize() bind(C, name="dlb_finalize")
      import :: c_int
    end function
    integer(c_int) function c_setup(n) bind(C, name="dlb_setup")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: n
    end function
    integer(c_int) function c_give_more(m, jobs) bind(C, name="dlb_give_more")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: m
      integer(c_int64_t) :: jobs(2)
    end function
    integer(c_int) function c_setup_color(distr, n) bind(C, name="dlb_setup_color")
      import :: c_int, c_int64_t
      integer(c_int64_t) :: distr(*)
      integer(c_int64_t), value :: n
    end function
    integer(c_int) function c_give_more_color(m, color, jobs) bind(C, name="dlb_give_more_color")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: m
      integer(c_int64_t) :: color
      integer(c_int64_t) :: jobs(2)
    end function
    integer(c_int) function c_setup_rr(n) bind(C, name="dlb_setup_rr")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: n
    end function
    integer(c_int) function c_give_more_rr(m, jobs) bind(C, name="dlb_give_more_rr")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: m
      integer(c_int64_t) :: jobs(3)
    end function
    integer(c_int) function c_print_statistics(level) bind(C, name="dlb_print_statistics")
      import :: c_int
      integer(c_int), value :: level
    end function
    type(c_ptr) function c_strerror(err) bind(C, name="dlb_strerror")
      import :: c_int, c_ptr
      integer(c_int), value :: err
    end function
  end interface

contains

  ! Stops the program with dlb's message when rc is an error code.
  subroutine check(rc, call_name)
    integer(c_int), intent(in) :: rc
    character(*), intent(in) :: call_name
    character(kind=c_char), pointer :: text(:)
    integer :: ierr, n
    logical :: started, ended
    if (rc >= 0) return
    call c_f_pointer(c_strerror(rc), text, [4096])
    n = 0
    do while (n < 4096)
      if (text(n + 1) == char(0)) exit
      n = n + 1
    end do
    write (0, '(a, a, i0, a, 4096a)') call_name, ' failed (', rc, '): ', text(1:n)
    ! MPI_Abort only while MPI runs (dlb_init before MPI_Init, say, fails
    ! with MPI not initialized).
    call MPI_Initialized(started, ierr)
    call MPI_Finalized(ended, ierr)
    if (started .and. .not. ended) call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
    error stop 1
  end subroutine

  subroutine dlb_init(world)
    integer, intent(in) :: world
    call check(c_init_f(world), 'dlb_init')
  end subroutine

  subroutine dlb_finalize()
    call check(c_finalize(), 'dlb_finalize')
  end subroutine

  subroutine dlb_setup(n)
    integer(idlb_kind), intent(in) :: n
    call check(c_setup(n), 'dlb_setup')
  end subroutine

  logical function dlb_give_more(n, jobs)
    integer(idlb_kind), intent(in) :: n
    integer(idlb_kind), intent(out) :: jobs(2)
    integer(c_int) :: rc
    rc = c_give_more(n, jobs)
    call check(rc, 'dlb_give_more')
    dlb_give_more = rc == 1
  end function

  subroutine dlb_setup_color(distr)
    integer(idlb_kind), intent(in) :: distr(:)
    integer(idlb_kind) :: contiguous(size(distr))
    contiguous = distr
    call check(c_setup_color(contiguous, int(size(distr), idlb_kind)), 'dlb_setup_color')
  end subroutine

  ! color is 1-based, 0 when it returns false; IDs jobs(1)+1 .. jobs(2) count within the color.
  logical function dlb_give_more_color(n, color, jobs)
    integer(idlb_kind), intent(in) :: n
    integer(idlb_kind), intent(out) :: color
    integer(idlb_kind), intent(out) :: jobs(2)
    integer(c_int) :: rc
    integer(idlb_kind) :: c
    rc = c_give_more_color(n, c, jobs)
    call check(rc, 'dlb_give_more_color')
    color = c + 1
    dlb_give_more_color = rc == 1
  end function

  subroutine dlb_setup_rr(n)
    integer(idlb_kind), intent(in) :: n
    call check(c_setup_rr(n), 'dlb_setup_rr')
  end subroutine

  ! Run do i = jobs(1)+1, jobs(2), jobs(3).
  logical function dlb_give_more_rr(n, jobs)
    integer(idlb_kind), intent(in) :: n
    integer(idlb_kind), intent(out) :: jobs(3)
    integer(c_int) :: rc
    rc = c_give_more_rr(n, jobs)
    call check(rc, 'dlb_give_more_rr')
    dlb_give_more_rr = rc == 1
  end function

  subroutine dlb_print_statistics(level)
    integer, intent(in) :: level
    call check(c_print_statistics(int(level, c_int)), 'dlb_print_statistics')
  end subroutine

end module dlb
