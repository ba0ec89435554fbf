/* The test program of tests/root_uprobe.rs: known functions called a known
 * number of times with known arguments, and two USDT probes (one behind a
 * semaphore). Usage: prog N [GO_FILE]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A USDT probe written the way <sys/sdt.h> writes one: a nop at the probe
 * site and a stapsdt note giving its address, the semaphore's address and
 * the argument specs (size@location, the location filled in by the
 * compiler from the "nor" operands). */
#define FT_USDT(prov, name, sem, spec, ...) \
    __asm__ __volatile__("990: nop\n" \
        ".pushsection .note.stapsdt,\"\",\"note\"\n" \
        ".balign 4\n" \
        ".4byte 992f-991f, 994f-993f, 3\n" \
        "991: .asciz \"stapsdt\"\n" \
        "992: .balign 4\n" \
        "993: .8byte 990b\n" \
        ".8byte _.stapsdt.base\n" \
        ".8byte " sem "\n" \
        ".asciz \"" prov "\"\n" \
        ".asciz \"" name "\"\n" \
        ".asciz \"" spec "\"\n" \
        "994: .balign 4\n" \
        ".popsection\n" \
        ".ifndef _.stapsdt.base\n" \
        ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
        ".weak _.stapsdt.base\n" \
        ".hidden _.stapsdt.base\n" \
        "_.stapsdt.base: .space 1\n" \
        ".size _.stapsdt.base, 1\n" \
        ".popsection\n" \
        ".endif\n" \
        :: __VA_ARGS__)

volatile unsigned short ft_tick_semaphore __attribute__((section(".probes"))) = 0;

__attribute__((noinline)) int add(int a, int b) { __asm__ volatile(""); return a + b; }
__attribute__((noinline)) long mul3(long x) { __asm__ volatile(""); return x * 3; }
__attribute__((noinline)) int greet(const char *s) { __asm__ volatile(""); return (int)strlen(s); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    /* With a second argument: wait (bounded, 20 s) for that file to exist. */
    if (argc > 2)
        for (int i = 0; i < 2000 && access(argv[2], F_OK) != 0; i++)
            usleep(10000);
    long total = 0;
    volatile long table[9]; /* volatile: the asm reads it, unseen by the compiler */
    for (int k = 0; k < 9; k++)
        table[k] = 1000L * k;
    int ticks = 0;
    for (int i = 0; i < n; i++) {
        total += add(i, 10 * i);
        total += mul3(i);
        long neg = -(long)i - 5;
        FT_USDT("ft", "plain", "0", "-4@%0 -8@%1", "nor"(i), "nor"(neg));
        /* An indexed memory argument: table[i % 8 + 1], i.e. 8(base,index,8). */
        FT_USDT("ft", "indexed", "0", "-8@8(%0,%1,8)", "r"(table), "r"((long)(i % 8)));
        if (ft_tick_semaphore) {
            ticks++;
            FT_USDT("ft", "tick", "ft_tick_semaphore", "-4@%0 8@%1", "nor"(i), "nor"(total));
        }
    }
    /* On the stack, so the page is present when the probe reads it: a BPF
     * program cannot fault in a page the process has not touched yet. */
    char message[32];
    strcpy(message, "hello flowtrace");
    greet(message);
    printf("total=%ld ticks=%d\n", total, ticks);
    return 0;
}
