/*
 * A fake libEFWFilter for tests: the same exported functions, struct layout and
 * error codes as ZWO's EFW_filter.h, with the real library's timing behaviour:
 *
 *  - wheel IDs differ from indices (ID = 3 + 7 * index), so a driver that passes
 *    an index where an ID belongs gets EFW_ERROR_INVALID_ID;
 *  - after EFWOpen the wheel "counts its slots" for detect_ms: EFWGetProperty
 *    answers EFW_ERROR_MOVING and EFWGetPosition reads -1;
 *  - EFWGetProperty on a closed wheel succeeds with slotNum 0;
 *  - a move takes move_ms_per_slot per slot travelled (the short way round, or
 *    forwards only when unidirectional), position -1 meanwhile; EFWSetPosition
 *    while moving answers EFW_ERROR_MOVING;
 *  - a removed wheel answers EFW_ERROR_REMOVED to everything, EFWClose included.
 *
 * Test controls (not in the real library):
 *   FakeEFW_Configure(count, slots, move_ms_per_slot, detect_ms)  reset everything
 *   FakeEFW_SetSlots(index, slots)
 *   FakeEFW_SetFault(index, fault)  0 none, 1 removed mid-move, 2 stuck (a move
 *       never ends), 3 error state, 4 never finishes counting its slots
 *   FakeEFW_Unplug(index)           removed now
 *   FakeEFW_MovingAnswers(index)    EFW_ERROR_MOVING answers from EFWGetProperty
 *   FakeEFW_IsOpen(index), FakeEFW_Unidirectional(index), FakeEFW_Calibrations(index)
 *
 * Build: gcc -shared -fPIC -O1 -o libEFWFilter.so fake_efwfilter.c -lpthread
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define MAX_WHEELS 8

typedef struct _EFW_INFO {
    int ID;
    char Name[64];
    int slotNum;
} EFW_INFO;

typedef enum _EFW_ERROR_CODE {
    EFW_SUCCESS = 0,
    EFW_ERROR_INVALID_INDEX,
    EFW_ERROR_INVALID_ID,
    EFW_ERROR_INVALID_VALUE,
    EFW_ERROR_REMOVED,
    EFW_ERROR_MOVING,
    EFW_ERROR_ERROR_STATE,
    EFW_ERROR_GENERAL_ERROR,
    EFW_ERROR_NOT_SUPPORTED,
    EFW_ERROR_CLOSED,
    EFW_ERROR_END = -1
} EFW_ERROR_CODE;

enum { FAULT_NONE, FAULT_REMOVED_MID_MOVE, FAULT_STUCK, FAULT_ERROR_STATE, FAULT_NEVER_DETECTS };

struct wheel {
    int id;
    int slots;
    bool is_open;
    double detect_end_ms;
    int position;        /* last slot reached */
    int target;
    bool moving;
    double arrive_ms;
    double removed_at_ms; /* < 0: not scheduled */
    bool removed;
    bool unidirectional;
    int fault;
    int moving_answers;
    int calibrations;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool configured = false;
static int wheel_count = 1;
static int move_ms_per_slot = 20;
static int detect_ms = 30;
static struct wheel wheels[MAX_WHEELS];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void reset(int count, int slots, int move_ms, int det_ms)
{
    if (count < 0) count = 0;
    if (count > MAX_WHEELS) count = MAX_WHEELS;
    wheel_count = count;
    move_ms_per_slot = move_ms < 0 ? 0 : move_ms;
    detect_ms = det_ms < 0 ? 0 : det_ms;
    memset(wheels, 0, sizeof wheels);
    for (int i = 0; i < MAX_WHEELS; i++) {
        wheels[i].id = 3 + 7 * i;
        wheels[i].slots = slots;
        wheels[i].removed_at_ms = -1;
    }
    configured = true;
}

static void ensure_configured(void)
{
    if (!configured) reset(1, 7, 20, 30);
}

/* the wheel with this ID, its motion brought up to date; NULL if none */
static struct wheel *find(int id)
{
    ensure_configured();
    for (int i = 0; i < wheel_count; i++) {
        struct wheel *w = &wheels[i];
        if (w->id != id) continue;
        double now = now_ms();
        if (w->removed_at_ms >= 0 && now >= w->removed_at_ms) w->removed = true;
        if (w->moving && w->fault != FAULT_STUCK && now >= w->arrive_ms) {
            w->moving = false;
            w->position = w->target;
        }
        return w;
    }
    return NULL;
}

static bool detecting(const struct wheel *w)
{
    return w->fault == FAULT_NEVER_DETECTS || now_ms() < w->detect_end_ms;
}

static struct wheel *at(int index)
{
    ensure_configured();
    return (index >= 0 && index < MAX_WHEELS) ? &wheels[index] : NULL;
}

/* ---- test controls ---- */

void FakeEFW_Configure(int count, int slots, int move_ms, int det_ms)
{
    pthread_mutex_lock(&lock);
    reset(count, slots, move_ms, det_ms);
    pthread_mutex_unlock(&lock);
}

int FakeEFW_SetSlots(int index, int slots)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = at(index);
    if (w) w->slots = slots;
    pthread_mutex_unlock(&lock);
    return w ? 0 : -1;
}

int FakeEFW_SetFault(int index, int fault)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = at(index);
    if (w) w->fault = fault;
    pthread_mutex_unlock(&lock);
    return w ? 0 : -1;
}

int FakeEFW_Unplug(int index)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = at(index);
    if (w) w->removed = true;
    pthread_mutex_unlock(&lock);
    return w ? 0 : -1;
}

static int read_field(int index, int which)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = at(index);
    int value = -1;
    if (w) {
        value = which == 0 ? w->moving_answers
              : which == 1 ? (int)w->is_open
              : which == 2 ? (int)w->unidirectional
              : w->calibrations;
    }
    pthread_mutex_unlock(&lock);
    return value;
}

int FakeEFW_MovingAnswers(int index) { return read_field(index, 0); }
int FakeEFW_IsOpen(int index) { return read_field(index, 1); }
int FakeEFW_Unidirectional(int index) { return read_field(index, 2); }
int FakeEFW_Calibrations(int index) { return read_field(index, 3); }

/* ---- EFW_filter.h ---- */

int EFWGetNum(void)
{
    pthread_mutex_lock(&lock);
    ensure_configured();
    int count = wheel_count;
    pthread_mutex_unlock(&lock);
    return count;
}

int EFWGetProductIDs(int *pPIDs)
{
    pthread_mutex_lock(&lock);
    ensure_configured();
    int count = wheel_count;
    if (pPIDs)
        for (int i = 0; i < count; i++) pPIDs[i] = 0x1f01;
    pthread_mutex_unlock(&lock);
    return count;
}

EFW_ERROR_CODE EFWGetID(int index, int *ID)
{
    pthread_mutex_lock(&lock);
    ensure_configured();
    EFW_ERROR_CODE rc = EFW_ERROR_INVALID_INDEX;
    if (index >= 0 && index < wheel_count) {
        *ID = wheels[index].id;
        rc = EFW_SUCCESS;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWOpen(int ID)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = EFW_SUCCESS;
    if (!w) rc = EFW_ERROR_INVALID_ID;
    else if (w->removed) rc = EFW_ERROR_REMOVED;
    else if (!w->is_open) {
        w->is_open = true;
        w->detect_end_ms = now_ms() + detect_ms;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWGetProperty(int ID, EFW_INFO *pInfo)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = EFW_SUCCESS;
    if (!w) rc = EFW_ERROR_INVALID_ID;
    else if (w->removed) rc = EFW_ERROR_REMOVED;
    else if (w->is_open && detecting(w)) {
        w->moving_answers++;
        rc = EFW_ERROR_MOVING;
    } else {
        memset(pInfo, 0, sizeof *pInfo);
        pInfo->ID = w->id;
        strncpy(pInfo->Name, "EFW", sizeof pInfo->Name - 1);
        pInfo->slotNum = w->is_open ? w->slots : 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* common checks for calls on an open wheel */
static EFW_ERROR_CODE usable(struct wheel *w)
{
    if (!w) return EFW_ERROR_INVALID_ID;
    if (w->removed) return EFW_ERROR_REMOVED;
    if (!w->is_open) return EFW_ERROR_CLOSED;
    return EFW_SUCCESS;
}

EFW_ERROR_CODE EFWGetPosition(int ID, int *pPosition)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) {
        if (w->fault == FAULT_ERROR_STATE) rc = EFW_ERROR_ERROR_STATE;
        else *pPosition = (w->moving || detecting(w)) ? -1 : w->position;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static void start_move(struct wheel *w, int target, int slots_travelled)
{
    double now = now_ms();
    double duration = (double)slots_travelled * move_ms_per_slot;
    w->target = target;
    w->moving = true;
    w->arrive_ms = now + duration;
    if (w->fault == FAULT_REMOVED_MID_MOVE) w->removed_at_ms = now + duration / 2;
}

EFW_ERROR_CODE EFWSetPosition(int ID, int Position)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) {
        if (w->fault == FAULT_ERROR_STATE) rc = EFW_ERROR_ERROR_STATE;
        else if (Position < 0 || Position >= w->slots) rc = EFW_ERROR_INVALID_VALUE;
        else if (w->moving || detecting(w)) rc = EFW_ERROR_MOVING;
        else {
            int forward = (Position - w->position + w->slots) % w->slots;
            int backward = w->slots - forward;
            int travel = w->unidirectional || forward <= backward ? forward : backward;
            start_move(w, Position, travel);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWSetDirection(int ID, bool bUnidirectional)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) w->unidirectional = bUnidirectional;
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWGetDirection(int ID, bool *bUnidirectional)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) *bUnidirectional = w->unidirectional;
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWCalibrate(int ID)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) {
        if (w->fault == FAULT_ERROR_STATE) rc = EFW_ERROR_ERROR_STATE;
        else if (w->moving || detecting(w)) rc = EFW_ERROR_MOVING;
        else {
            w->calibrations++;
            start_move(w, 0, w->slots);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWClose(int ID)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = !w ? EFW_ERROR_INVALID_ID : w->removed ? EFW_ERROR_REMOVED : EFW_SUCCESS;
    if (w) w->is_open = false; /* a removed wheel answers REMOVED but is closed all the same */
    pthread_mutex_unlock(&lock);
    return rc;
}

char *EFWGetSDKVersion(void)
{
    static char version[] = "1, 7, 1002";
    return version;
}

EFW_ERROR_CODE EFWGetFirmwareVersion(int ID, unsigned char *major, unsigned char *minor,
                                     unsigned char *build)
{
    pthread_mutex_lock(&lock);
    EFW_ERROR_CODE rc = usable(find(ID));
    if (rc == EFW_SUCCESS) {
        *major = 3;
        *minor = 0;
        *build = 8;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

EFW_ERROR_CODE EFWGetHWErrorCode(int ID, int *pErrCode)
{
    pthread_mutex_lock(&lock);
    struct wheel *w = find(ID);
    EFW_ERROR_CODE rc = usable(w);
    if (rc == EFW_SUCCESS) *pErrCode = w->fault == FAULT_ERROR_STATE ? 1 : 0;
    pthread_mutex_unlock(&lock);
    return rc;
}
