! DLB's README example, made to compile: every job ID of three runs (plain,
! color, round robin), printed with DLB's 1-based numbering.
program dlb_example
  use mpi
  use dlb
  implicit none
  integer :: ierr, prov
  integer(idlb_kind) :: NJOBS, MAXJOBS, jobs(2), jobs_rr(3), i
  integer(idlb_kind) :: distr(4), color

  call MPI_Init_thread(DLB_THREAD_REQUIRED, prov, ierr)
  call dlb_init(MPI_COMM_WORLD)

  NJOBS = 20
  MAXJOBS = 2
  call dlb_setup(NJOBS)
  do while (dlb_give_more(MAXJOBS, jobs))
    do i = jobs(1) + 1, jobs(2)
      print '(a, i0)', 'plain ', i
    end do
  end do

  MAXJOBS = 3
  distr = [10_idlb_kind, 13_idlb_kind, 1_idlb_kind, 9_idlb_kind]
  call dlb_setup_color(distr)
  do while (dlb_give_more_color(MAXJOBS, color, jobs))
    do i = jobs(1) + 1, jobs(2)
      print '(a, i0, a, i0)', 'color ', color, ' ', i
    end do
  end do

  call dlb_setup_rr(NJOBS)
  do while (dlb_give_more_rr(MAXJOBS, jobs_rr))
    do i = jobs_rr(1) + 1, jobs_rr(2), jobs_rr(3)
      print '(a, i0)', 'rr ', i
    end do
  end do

  call dlb_print_statistics(1)
  call dlb_finalize()
  call MPI_Finalize(ierr)
end program dlb_example
