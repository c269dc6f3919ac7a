/* tscr restore stub: the program every restored process starts as.
 * It has no libc and one page of code. The restorer execs it with
 * PTRACE_TRACEME, so the tracer holds it at the exec stop before it runs a
 * single instruction; from then on the tracer drives it by syscall
 * injection through the `syscall` at tscr_stub_gadget (entry + 2).
 * If it ever runs untraced, it stops itself and then exits with status 111. */
	.text
	.globl _start
_start:
	jmp	1f
	.globl tscr_stub_gadget
tscr_stub_gadget:
	syscall
	int3
1:
	mov	$39, %eax		/* getpid */
	syscall
	mov	%eax, %edi
	mov	$19, %esi		/* SIGSTOP */
	mov	$62, %eax		/* kill */
	syscall
	mov	$111, %edi
	mov	$231, %eax		/* exit_group */
	syscall
	hlt
	.section .note.GNU-stack,"",@progbits
