/*
 * fake_asicamera2.c: a stand-in for ZWO's libASICamera2 (the ASI camera SDK), for tests.
 *
 * What it fakes: the C API that zwoasi and autoflats' ZWO driver call, with the
 * function names, argument types and struct layouts of ASICamera2.h (ASI_CAMERA_INFO,
 * ASI_CONTROL_CAPS, ASI_SUPPORTED_MODE, ASI_ID; enums passed as int; control values
 * as long), so that zwoasi loads it with its own ctypes declarations. Behaviour
 * follows the SDK's documentation and what drivers have seen:
 *   - cameras are listed by index (ASIGetCameraProperty) and driven by CameraID, and
 *     the IDs differ from the indices; an unknown ID gives ASI_ERROR_INVALID_ID;
 *   - calls on a camera that is not open give ASI_ERROR_CAMERA_CLOSED; a removed
 *     camera answers ASI_ERROR_CAMERA_REMOVED to everything and leaves the list;
 *   - out-of-range control values are clamped silently; the exposure also has a
 *     floor and a grid the camera applies (read it back to know what was taken);
 *   - ROI width must be a multiple of 8 and height of 2 (ASI_ERROR_INVALID_SIZE);
 *     a new ROI is centred, as the SDK does, until ASISetStartPos moves it;
 *   - an exposure is ASI_EXP_WORKING for its exposure time plus a readout (real
 *     time, CLOCK_MONOTONIC), then ASI_EXP_SUCCESS or ASI_EXP_FAILED; a camera in a
 *     trigger mode waits for a trigger that never comes;
 *   - RAW16 data are little-endian and MSB-aligned (a 12-bit value v arrives as
 *     v << 4) from a simple light model: bias 2 x offset plus flux x exposure x
 *     10^(gain/200) x bin^2, times 0.5 / 1 / 0.25 on red / green / blue pixels of
 *     colour models and a 10 % left-to-right ramp; ElecPerADU follows the gain
 *     while the camera is open (with a high-conversion-gain step on mono16);
 *   - settings start where another program might have left them (flip, high-speed,
 *     hardware bin, overclock, pattern adjust, gamma, mono bin, white balance, auto
 *     exposure and gain on; trigger cameras in soft-trigger mode).
 *
 * How it is configured (functions of its own, not in the real SDK):
 *   FakeASI_Configure(spec) replaces all cameras. spec is "camera;camera;...", each
 *     camera "key=value,key=value" with keys model (mono12, color14, mono16), id,
 *     bits, color, bayer, w, h, e (e-/ADU at gain 0), flux (native ADU/s at gain 0),
 *     readout_ms, exp_min_us, exp_floor_us, exp_step_us, pad (1: set padding bits),
 *     trigger, hcg (gain of the e-/ADU step, -1 none). "" means no camera.
 *     Returns the number of cameras, or -1 (FakeASI_LastError says why).
 *   Without a call, the environment variable FAKE_ASI_CONFIG holds the spec (unset:
 *     "model=mono12,id=3;model=color14,id=7").
 *   FakeASI_Fault(id, kind, n): kind fail, hang or read_timeout for exposure n (1 =
 *     the first started after configuring), remove (when exposure n is polled; 0 =
 *     now), status_errors or start_errors (the next n calls fail).
 *   FakeASI_Count(id, what): starts, stops, status_reads, reads, start_calls, opens.
 *   FakeASI_SizeOf(type): sizeof one of the SDK structs, to check the layout.
 *
 * Built by the test suite (tests/zwo/cfake.py) with: gcc -shared -fPIC ... -lm
 */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API __attribute__((visibility("default")))

/* -- the SDK's types (ASICamera2.h layout; enums are int in C) ------------------ */
typedef struct {
    char Name[64];
    int CameraID;
    long MaxHeight;
    long MaxWidth;
    int IsColorCam;
    int BayerPattern;
    int SupportedBins[16];
    int SupportedVideoFormat[8];
    double PixelSize;
    int MechanicalShutter;
    int ST4Port;
    int IsCoolerCam;
    int IsUSB3Host;
    int IsUSB3Camera;
    float ElecPerADU;
    int BitDepth;
    int IsTriggerCam;
    char Unused[16];
} ASI_CAMERA_INFO;

typedef struct {
    char Name[64];
    char Description[128];
    long MaxValue;
    long MinValue;
    long DefaultValue;
    int IsAutoSupported;
    int IsWritable;
    int ControlType;
    char Unused[32];
} ASI_CONTROL_CAPS;

typedef struct {
    int SupportedCameraMode[16];
} ASI_SUPPORTED_MODE;

typedef struct {
    unsigned char id[8];
} ASI_ID;

enum { /* ASI_ERROR_CODE */
    OK = 0, E_INVALID_INDEX, E_INVALID_ID, E_INVALID_CONTROL_TYPE, E_CAMERA_CLOSED,
    E_CAMERA_REMOVED, E_INVALID_PATH, E_INVALID_FILEFORMAT, E_INVALID_SIZE,
    E_INVALID_IMGTYPE, E_OUTOF_BOUNDARY, E_TIMEOUT, E_INVALID_SEQUENCE,
    E_BUFFER_TOO_SMALL, E_VIDEO_MODE_ACTIVE, E_EXPOSURE_IN_PROGRESS, E_GENERAL_ERROR,
    E_INVALID_MODE
};
enum { IMG_RAW8 = 0, IMG_RGB24 = 1, IMG_RAW16 = 2, IMG_Y8 = 3, IMG_END = -1 };
enum { EXP_IDLE = 0, EXP_WORKING, EXP_SUCCESS, EXP_FAILED };
enum { MODE_NORMAL = 0, MODE_TRIG_SOFT_EDGE = 1, MODE_TRIG_RISE_EDGE = 2, MODE_END = -1 };
enum { /* ASI_CONTROL_TYPE */
    C_GAIN = 0, C_EXPOSURE, C_GAMMA, C_WB_R, C_WB_B, C_OFFSET, C_BANDWIDTH, C_OVERCLOCK,
    C_TEMPERATURE, C_FLIP, C_AUTO_MAX_GAIN, C_AUTO_MAX_EXP, C_AUTO_TARGET_BRIGHTNESS,
    C_HARDWARE_BIN, C_HIGH_SPEED_MODE, C_COOLER_POWER_PERC, C_TARGET_TEMP, C_COOLER_ON,
    C_MONO_BIN, C_FAN_ON, C_PATTERN_ADJUST
};

/* -- the fake's state ----------------------------------------------------------- */
#define MAX_CAMERAS 8
#define MAX_CONTROLS 24

typedef struct {
    ASI_CONTROL_CAPS caps;
    long value;
    int is_auto;
} control_t;

typedef struct {
    int id, removed, open;
    char name[64];
    int width, height, bits, color, bayer, cooler, usb3, trigger, pad, hcg_gain;
    int gain_max, gain_default, offset_max, offset_default;
    double pixel_um, e0, flux, readout_s;
    long exp_min_us, exp_floor_us, exp_step_us;
    control_t controls[MAX_CONTROLS];
    int ncontrols;
    int roi_w, roi_h, roi_bin, roi_type, start_x, start_y;
    int mode, status, current;
    long taken_us;
    double ends_at;
    unsigned long long fail_mask, hang_mask, read_timeout_mask;
    int remove_at, status_errors, start_errors;
    int starts, stops, status_reads, reads, start_calls, opens;
} camera_t;

static camera_t cams[MAX_CAMERAS];
static int ncams;
static int configured;
static char last_error[160];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void add_control(camera_t *c, const char *name, int type, long min, long max,
                        long def, int is_auto_supported, int writable, long start) {
    control_t *ctl = &c->controls[c->ncontrols++];
    memset(ctl, 0, sizeof(*ctl));
    snprintf(ctl->caps.Name, sizeof(ctl->caps.Name), "%s", name);
    snprintf(ctl->caps.Description, sizeof(ctl->caps.Description), "%s (fake)", name);
    ctl->caps.MinValue = min;
    ctl->caps.MaxValue = max;
    ctl->caps.DefaultValue = def;
    ctl->caps.IsAutoSupported = is_auto_supported;
    ctl->caps.IsWritable = writable;
    ctl->caps.ControlType = type;
    ctl->value = start;
}

static void build_controls(camera_t *c) {
    c->ncontrols = 0;
    add_control(c, "Gain", C_GAIN, 0, c->gain_max, c->gain_default, 1, 1, c->gain_default);
    c->controls[0].is_auto = 1;
    add_control(c, "Exposure", C_EXPOSURE, c->exp_min_us, 2000000000L, 10000, 1, 1, 10000);
    c->controls[1].is_auto = 1;
    add_control(c, "Offset", C_OFFSET, 0, c->offset_max, c->offset_default, 0, 1,
                c->offset_default);
    add_control(c, "BandWidth", C_BANDWIDTH, 40, 100, 50, 1, 1, 50);
    add_control(c, "Flip", C_FLIP, 0, 3, 0, 0, 1, 3);
    add_control(c, "Gamma", C_GAMMA, 1, 100, 50, 0, 1, 80);
    add_control(c, "AutoExpMaxGain", C_AUTO_MAX_GAIN, 0, c->gain_max, c->gain_max / 2, 0,
                1, c->gain_max / 2);
    add_control(c, "AutoExpMaxExpMS", C_AUTO_MAX_EXP, 1, 60000, 100, 0, 1, 100);
    add_control(c, "AutoExpTargetBrightness", C_AUTO_TARGET_BRIGHTNESS, 50, 160, 100, 0,
                1, 100);
    add_control(c, "HardwareBin", C_HARDWARE_BIN, 0, 1, 0, 0, 1, 1);
    add_control(c, "HighSpeedMode", C_HIGH_SPEED_MODE, 0, 1, 0, 0, 1, 1);
    add_control(c, "Overclock", C_OVERCLOCK, 0, 1, 0, 0, 1, 1);
    add_control(c, "PatternAdjust", C_PATTERN_ADJUST, 0, 1, 0, 0, 1, 1);
    add_control(c, "Temperature", C_TEMPERATURE, -500, 1000, 20, 0, 0, 213);
    if (c->color) {
        add_control(c, "WB_R", C_WB_R, 1, 99, 52, 1, 1, 70);
        c->controls[c->ncontrols - 1].is_auto = 1;
        add_control(c, "WB_B", C_WB_B, 1, 99, 95, 1, 1, 30);
        add_control(c, "MonoBin", C_MONO_BIN, 0, 1, 0, 0, 1, 1);
    }
    if (c->cooler) {
        add_control(c, "CoolerPowerPerc", C_COOLER_POWER_PERC, 0, 100, 0, 0, 0, 0);
        add_control(c, "TargetTemp", C_TARGET_TEMP, -40, 30, 0, 0, 1, 0);
        add_control(c, "CoolerOn", C_COOLER_ON, 0, 1, 0, 0, 1, 0);
    }
}

static control_t *find_control(camera_t *c, int type) {
    for (int i = 0; i < c->ncontrols; i++)
        if (c->controls[i].caps.ControlType == type)
            return &c->controls[i];
    return NULL;
}

static void preset(camera_t *c, const char *model) {
    memset(c, 0, sizeof(*c));
    c->usb3 = 1;
    c->cooler = 1;
    c->exp_min_us = 32;
    c->exp_floor_us = 0;
    c->exp_step_us = 1;
    c->readout_s = 0.02;
    c->hcg_gain = -1;
    c->offset_max = 255;
    if (strcmp(model, "color14") == 0) {
        snprintf(c->name, sizeof(c->name), "ZWO ASI294MC Pro");
        c->width = 96; c->height = 64; c->bits = 14; c->color = 1; c->bayer = 0;
        c->pixel_um = 4.63; c->e0 = 3.9; c->flux = 1600.0;
        c->gain_max = 570; c->gain_default = 120; c->offset_default = 30;
    } else if (strcmp(model, "mono16") == 0) {
        snprintf(c->name, sizeof(c->name), "ZWO ASI2600MM Pro");
        c->width = 126; c->height = 84; c->bits = 16; c->pixel_um = 3.76; c->e0 = 0.77;
        c->flux = 16000.0; c->gain_max = 700; c->gain_default = 100; c->offset_default = 50;
        c->hcg_gain = 100; c->trigger = 1;
    } else { /* mono12 */
        snprintf(c->name, sizeof(c->name), "ZWO ASI1600MM Pro");
        c->width = 100; c->height = 70; c->bits = 12; c->pixel_um = 3.8; c->e0 = 5.0;
        c->flux = 400.0; c->gain_max = 300; c->gain_default = 139; c->offset_default = 21;
    }
}

static int set_key(camera_t *c, const char *key, const char *value) {
    char *end = NULL;
    double number = strtod(value, &end);
    if (end == value || *end != '\0') {
        snprintf(last_error, sizeof(last_error), "%s=%s is not a number", key, value);
        return -1;
    }
    if (strcmp(key, "id") == 0) c->id = (int)number;
    else if (strcmp(key, "bits") == 0) c->bits = (int)number;
    else if (strcmp(key, "color") == 0) c->color = (int)number;
    else if (strcmp(key, "bayer") == 0) c->bayer = (int)number;
    else if (strcmp(key, "w") == 0) c->width = (int)number;
    else if (strcmp(key, "h") == 0) c->height = (int)number;
    else if (strcmp(key, "e") == 0) c->e0 = number;
    else if (strcmp(key, "flux") == 0) c->flux = number;
    else if (strcmp(key, "readout_ms") == 0) c->readout_s = number / 1000.0;
    else if (strcmp(key, "exp_min_us") == 0) c->exp_min_us = (long)number;
    else if (strcmp(key, "exp_floor_us") == 0) c->exp_floor_us = (long)number;
    else if (strcmp(key, "exp_step_us") == 0) c->exp_step_us = (long)number;
    else if (strcmp(key, "pad") == 0) c->pad = (int)number;
    else if (strcmp(key, "trigger") == 0) c->trigger = (int)number;
    else if (strcmp(key, "hcg") == 0) c->hcg_gain = (int)number;
    else {
        snprintf(last_error, sizeof(last_error), "unknown key %s", key);
        return -1;
    }
    return 0;
}

static int parse_camera(camera_t *c, char *text, int index) {
    char *model = strstr(text, "model=");
    char name[16] = "mono12";
    if (model != NULL)
        sscanf(model + 6, "%15[^,]", name);
    preset(c, name);
    c->id = 3 + 4 * index;
    for (char *save = NULL, *item = strtok_r(text, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            snprintf(last_error, sizeof(last_error), "%s is not key=value", item);
            return -1;
        }
        *eq = '\0';
        if (strcmp(item, "model") == 0)
            continue;
        if (set_key(c, item, eq + 1) != 0)
            return -1;
    }
    if (c->bits < 8 || c->bits > 16 || c->width < 16 || c->height < 4) {
        snprintf(last_error, sizeof(last_error), "bad bits or size for camera %d", c->id);
        return -1;
    }
    build_controls(c);
    c->roi_w = c->width / 8 * 8;
    c->roi_h = c->height / 2 * 2;
    c->roi_bin = 1;
    c->roi_type = IMG_RAW8;
    c->mode = c->trigger ? MODE_TRIG_SOFT_EDGE : MODE_NORMAL;
    return 0;
}

API int FakeASI_Configure(const char *spec) {
    static camera_t parsed[MAX_CAMERAS];
    char buffer[1024];
    int count = 0;
    last_error[0] = '\0';
    snprintf(buffer, sizeof(buffer), "%s", spec ? spec : "");
    for (char *save = NULL, *part = strtok_r(buffer, ";", &save); part != NULL;
         part = strtok_r(NULL, ";", &save)) {
        if (strspn(part, " ") == strlen(part))
            continue;
        if (count == MAX_CAMERAS) {
            snprintf(last_error, sizeof(last_error), "at most %d cameras", MAX_CAMERAS);
            return -1;
        }
        if (parse_camera(&parsed[count], part, count) != 0)
            return -1;
        count++;
    }
    memcpy(cams, parsed, sizeof(parsed));
    ncams = count;
    configured = 1;
    return count;
}

API const char *FakeASI_LastError(void) { return last_error; }

static void ensure_configured(void) {
    if (!configured) {
        const char *env = getenv("FAKE_ASI_CONFIG");
        if (FakeASI_Configure(env ? env : "model=mono12,id=3;model=color14,id=7") < 0) {
            fprintf(stderr, "fake libASICamera2: bad FAKE_ASI_CONFIG: %s\n", last_error);
            FakeASI_Configure("");
        }
    }
}

static camera_t *by_id(int id) {
    ensure_configured();
    for (int i = 0; i < ncams; i++)
        if (cams[i].id == id)
            return &cams[i];
    return NULL;
}

/* The camera for an ID, or an error code: unknown ID, removed, not open. */
static int lookup(int id, int need_open, camera_t **out) {
    camera_t *c = by_id(id);
    if (c == NULL) return E_INVALID_ID;
    if (c->removed) return E_CAMERA_REMOVED;
    if (need_open && !c->open) return E_CAMERA_CLOSED;
    *out = c;
    return OK;
}

#define LOOKUP(id, need_open)                  \
    camera_t *c = NULL;                        \
    int code_ = lookup((id), (need_open), &c); \
    if (code_ != OK) return code_

API int FakeASI_Fault(int id, const char *kind, int n) {
    camera_t *c = by_id(id);
    if (c == NULL || kind == NULL) return -1;
    unsigned long long bit = (n >= 1 && n <= 64) ? 1ULL << (n - 1) : 0;
    if (strcmp(kind, "fail") == 0 && bit) c->fail_mask |= bit;
    else if (strcmp(kind, "hang") == 0 && bit) c->hang_mask |= bit;
    else if (strcmp(kind, "read_timeout") == 0 && bit) c->read_timeout_mask |= bit;
    else if (strcmp(kind, "remove") == 0 && n == 0) c->removed = 1;
    else if (strcmp(kind, "remove") == 0) c->remove_at = n;
    else if (strcmp(kind, "status_errors") == 0) c->status_errors = n;
    else if (strcmp(kind, "start_errors") == 0) c->start_errors = n;
    else return -1;
    return 0;
}

API int FakeASI_Count(int id, const char *what) {
    camera_t *c = by_id(id);
    if (c == NULL || what == NULL) return -1;
    if (strcmp(what, "starts") == 0) return c->starts;
    if (strcmp(what, "stops") == 0) return c->stops;
    if (strcmp(what, "status_reads") == 0) return c->status_reads;
    if (strcmp(what, "reads") == 0) return c->reads;
    if (strcmp(what, "start_calls") == 0) return c->start_calls;
    if (strcmp(what, "opens") == 0) return c->opens;
    return -1;
}

API long FakeASI_SizeOf(const char *type) {
    if (type == NULL) return -1;
    if (strcmp(type, "ASI_CAMERA_INFO") == 0) return (long)sizeof(ASI_CAMERA_INFO);
    if (strcmp(type, "ASI_CONTROL_CAPS") == 0) return (long)sizeof(ASI_CONTROL_CAPS);
    if (strcmp(type, "ASI_SUPPORTED_MODE") == 0) return (long)sizeof(ASI_SUPPORTED_MODE);
    if (strcmp(type, "ASI_ID") == 0) return (long)sizeof(ASI_ID);
    return -1;
}

/* -- discovery ------------------------------------------------------------------ */
static double e_per_adu_now(camera_t *c) {
    if (!c->open) return c->e0;
    long gain = find_control(c, C_GAIN)->value;
    double value = c->e0 / pow(10.0, gain / 200.0);
    if (c->hcg_gain >= 0 && gain >= c->hcg_gain) value /= 3.0;
    return value;
}

static void fill_info(camera_t *c, ASI_CAMERA_INFO *info) {
    memset(info, 0, sizeof(*info));
    snprintf(info->Name, sizeof(info->Name), "%s", c->name);
    info->CameraID = c->id;
    info->MaxHeight = c->height;
    info->MaxWidth = c->width;
    info->IsColorCam = c->color;
    info->BayerPattern = c->bayer;
    for (int b = 1, i = 0; b <= 4; b++) info->SupportedBins[i++] = b;
    int f = 0;
    info->SupportedVideoFormat[f++] = IMG_RAW8;
    if (c->color) info->SupportedVideoFormat[f++] = IMG_RGB24;
    info->SupportedVideoFormat[f++] = IMG_RAW16;
    info->SupportedVideoFormat[f++] = IMG_Y8;
    info->SupportedVideoFormat[f] = IMG_END;
    info->PixelSize = c->pixel_um;
    info->ST4Port = 1;
    info->IsCoolerCam = c->cooler;
    info->IsUSB3Host = c->usb3;
    info->IsUSB3Camera = c->usb3;
    info->ElecPerADU = (float)e_per_adu_now(c);
    info->BitDepth = c->bits;
    info->IsTriggerCam = c->trigger;
}

API int ASIGetNumOfConnectedCameras(void) {
    ensure_configured();
    int n = 0;
    for (int i = 0; i < ncams; i++) n += !cams[i].removed;
    return n;
}

API int ASIGetProductIDs(int *pids) {
    (void)pids;
    return 0;
}

API int ASIGetCameraProperty(ASI_CAMERA_INFO *info, int index) {
    ensure_configured();
    for (int i = 0, seen = 0; i < ncams; i++) {
        if (cams[i].removed) continue;
        if (seen++ == index) {
            fill_info(&cams[i], info);
            return OK;
        }
    }
    return E_INVALID_INDEX;
}

API int ASIGetCameraPropertyByID(int id, ASI_CAMERA_INFO *info) {
    LOOKUP(id, 0);
    fill_info(c, info);
    return OK;
}

API char *ASIGetSDKVersion(void) {
    static char version[] = "1, 41, 0, 0";
    return version;
}

/* -- open, close, controls ------------------------------------------------------ */
API int ASIOpenCamera(int id) {
    LOOKUP(id, 0);
    c->open = 1;
    c->opens++;
    return OK;
}

API int ASIInitCamera(int id) {
    LOOKUP(id, 1);
    c->status = EXP_IDLE;
    return OK;
}

API int ASICloseCamera(int id) {
    LOOKUP(id, 0);
    c->open = 0;
    c->status = EXP_IDLE;
    return OK;
}

API int ASIGetNumOfControls(int id, int *count) {
    LOOKUP(id, 1);
    *count = c->ncontrols;
    return OK;
}

API int ASIGetControlCaps(int id, int index, ASI_CONTROL_CAPS *caps) {
    LOOKUP(id, 1);
    if (index < 0 || index >= c->ncontrols) return E_INVALID_CONTROL_TYPE;
    *caps = c->controls[index].caps;
    return OK;
}

API int ASIGetControlValue(int id, int type, long *value, int *is_auto) {
    LOOKUP(id, 1);
    control_t *ctl = find_control(c, type);
    if (ctl == NULL) return E_INVALID_CONTROL_TYPE;
    *value = ctl->value;
    *is_auto = ctl->is_auto;
    if (type == C_TEMPERATURE && find_control(c, C_COOLER_ON) != NULL &&
        find_control(c, C_COOLER_ON)->value)
        *value = find_control(c, C_TARGET_TEMP)->value * 10;
    if (type == C_COOLER_POWER_PERC)
        *value = find_control(c, C_COOLER_ON)->value ? 60 : 0;
    return OK;
}

API int ASISetControlValue(int id, int type, long value, int is_auto) {
    LOOKUP(id, 1);
    control_t *ctl = find_control(c, type);
    if (ctl == NULL) return E_INVALID_CONTROL_TYPE;
    if (!ctl->caps.IsWritable) return E_GENERAL_ERROR;
    if (value < ctl->caps.MinValue) value = ctl->caps.MinValue;
    if (value > ctl->caps.MaxValue) value = ctl->caps.MaxValue;
    if (type == C_EXPOSURE) {
        if (value < c->exp_floor_us) value = c->exp_floor_us;
        if (c->exp_step_us > 1)
            value = (value + c->exp_step_us / 2) / c->exp_step_us * c->exp_step_us;
        if (value < ctl->caps.MinValue) value = ctl->caps.MinValue;
    }
    ctl->value = value;
    ctl->is_auto = is_auto && ctl->caps.IsAutoSupported;
    return OK;
}

/* -- camera modes --------------------------------------------------------------- */
static int mode_supported(camera_t *c, int mode) {
    return mode == MODE_NORMAL ||
           (c->trigger && (mode == MODE_TRIG_SOFT_EDGE || mode == MODE_TRIG_RISE_EDGE));
}

API int ASIGetCameraSupportMode(int id, ASI_SUPPORTED_MODE *modes) {
    LOOKUP(id, 1);
    int n = 0;
    modes->SupportedCameraMode[n++] = MODE_NORMAL;
    if (c->trigger) {
        modes->SupportedCameraMode[n++] = MODE_TRIG_SOFT_EDGE;
        modes->SupportedCameraMode[n++] = MODE_TRIG_RISE_EDGE;
    }
    while (n < 16) modes->SupportedCameraMode[n++] = MODE_END;
    return OK;
}

API int ASIGetCameraMode(int id, int *mode) {
    LOOKUP(id, 1);
    *mode = c->mode;
    return OK;
}

API int ASISetCameraMode(int id, int mode) {
    LOOKUP(id, 1);
    if (!mode_supported(c, mode)) return E_INVALID_MODE;
    if (c->status == EXP_WORKING) return E_INVALID_SEQUENCE;
    c->mode = mode;
    return OK;
}

/* -- ROI ------------------------------------------------------------------------ */
API int ASISetROIFormat(int id, int width, int height, int bin, int type) {
    LOOKUP(id, 1);
    if (bin < 1 || bin > 4 || width < 8 || height < 2 || width % 8 || height % 2 ||
        width * bin > c->width || height * bin > c->height)
        return E_INVALID_SIZE;
    if (type != IMG_RAW8 && type != IMG_RAW16 && type != IMG_Y8 &&
        !(type == IMG_RGB24 && c->color))
        return E_INVALID_IMGTYPE;
    if (c->status == EXP_WORKING) return E_EXPOSURE_IN_PROGRESS;
    c->roi_w = width;
    c->roi_h = height;
    c->roi_bin = bin;
    c->roi_type = type;
    c->start_x = (c->width / bin - width) / 2; /* the SDK centres a new ROI */
    c->start_y = (c->height / bin - height) / 2;
    return OK;
}

API int ASIGetROIFormat(int id, int *width, int *height, int *bin, int *type) {
    LOOKUP(id, 1);
    *width = c->roi_w;
    *height = c->roi_h;
    *bin = c->roi_bin;
    *type = c->roi_type;
    return OK;
}

API int ASISetStartPos(int id, int x, int y) {
    LOOKUP(id, 1);
    if (x < 0 || y < 0 || x + c->roi_w > c->width / c->roi_bin ||
        y + c->roi_h > c->height / c->roi_bin)
        return E_OUTOF_BOUNDARY;
    c->start_x = x;
    c->start_y = y;
    return OK;
}

API int ASIGetStartPos(int id, int *x, int *y) {
    LOOKUP(id, 1);
    *x = c->start_x;
    *y = c->start_y;
    return OK;
}

/* -- snap exposures ------------------------------------------------------------- */
static int fault_at(unsigned long long mask, int n) {
    return n >= 1 && n <= 64 && (mask >> (n - 1)) & 1ULL;
}

API int ASIStartExposure(int id, int is_dark) {
    (void)is_dark;
    LOOKUP(id, 1);
    c->start_calls++;
    if (c->start_errors > 0) {
        c->start_errors--;
        return E_GENERAL_ERROR;
    }
    if (c->status == EXP_WORKING) return E_EXPOSURE_IN_PROGRESS;
    c->current = ++c->starts;
    c->taken_us = find_control(c, C_EXPOSURE)->value;
    c->ends_at = now_s() + c->taken_us / 1e6 + c->readout_s;
    c->status = EXP_WORKING;
    return OK;
}

API int ASIStopExposure(int id) {
    LOOKUP(id, 1);
    c->stops++;
    c->status = EXP_IDLE;
    return OK;
}

API int ASIGetExpStatus(int id, int *status) {
    camera_t *known = by_id(id);
    if (known != NULL) known->status_reads++; /* counted even once it is removed */
    LOOKUP(id, 1);
    if (c->status_errors > 0) {
        c->status_errors--;
        return E_GENERAL_ERROR;
    }
    if (c->remove_at > 0 && c->current >= c->remove_at) {
        c->removed = 1;
        return E_CAMERA_REMOVED;
    }
    int waiting = c->mode != MODE_NORMAL || fault_at(c->hang_mask, c->current);
    if (c->status == EXP_WORKING && !waiting && now_s() >= c->ends_at)
        c->status = fault_at(c->fail_mask, c->current) ? EXP_FAILED : EXP_SUCCESS;
    *status = c->status;
    return OK;
}

static unsigned pixel(camera_t *c, int x, int y) {
    static const double response[3] = {0.5, 1.0, 0.25}; /* R, G, B */
    static const char *layouts[4] = {"RGGB", "BGGR", "GRBG", "GBRG"};
    int bin = c->roi_bin;
    int sx = c->start_x + x, sy = c->start_y + y;
    int full_w = c->width / bin;
    double gain = pow(10.0, find_control(c, C_GAIN)->value / 200.0);
    double level = c->flux * bin * bin * gain * c->taken_us / 1e6;
    double ramp = 0.9 + 0.1 * sx / (full_w > 1 ? full_w - 1 : 1);
    double channel = 1.0;
    if (c->color) {
        char letter = layouts[c->bayer & 3][2 * (sy % 2) + (sx % 2)];
        channel = response[letter == 'R' ? 0 : letter == 'G' ? 1 : 2];
    }
    double native = floor(2.0 * find_control(c, C_OFFSET)->value + level * channel * ramp + 0.5);
    double full = (double)((1u << c->bits) - 1);
    if (native > full) native = full;
    if (native < 0) native = 0;
    unsigned value = (unsigned)native << (16 - c->bits);
    if (c->pad && c->bits < 16) value |= 1u;
    return value;
}

API int ASIGetDataAfterExp(int id, unsigned char *buffer, long size) {
    LOOKUP(id, 1);
    if (c->status != EXP_SUCCESS) return E_GENERAL_ERROR;
    if (fault_at(c->read_timeout_mask, c->current)) {
        c->status = EXP_IDLE;
        return E_TIMEOUT;
    }
    int per_pixel = c->roi_type == IMG_RAW16 ? 2 : c->roi_type == IMG_RGB24 ? 3 : 1;
    long needed = (long)c->roi_w * c->roi_h * per_pixel;
    if (size < needed) return E_BUFFER_TOO_SMALL;
    for (int y = 0; y < c->roi_h; y++) {
        for (int x = 0; x < c->roi_w; x++) {
            unsigned value = pixel(c, x, y);
            unsigned char *out = buffer + ((long)y * c->roi_w + x) * per_pixel;
            if (per_pixel == 2) {
                out[0] = (unsigned char)(value & 0xff); /* little-endian */
                out[1] = (unsigned char)(value >> 8);
            } else {
                memset(out, (int)(value >> 8), (size_t)per_pixel);
            }
        }
    }
    c->reads++;
    c->status = EXP_IDLE;
    return OK;
}

/* -- the rest of the API zwoasi declares; not used by autoflats ------------------ */
API int ASIGetID(int id, ASI_ID *out) {
    LOOKUP(id, 1);
    memset(out, 0, sizeof(*out));
    snprintf((char *)out->id, sizeof(out->id), "FAKE%d", c->id);
    return OK;
}

API int ASISetID(int id, ASI_ID value) {
    (void)value;
    LOOKUP(id, 1);
    return OK;
}

API int ASIGetGainOffset(int id, int *offset_dr, int *offset_unity, int *gain_rn,
                         int *offset_rn) {
    LOOKUP(id, 1);
    *offset_dr = c->offset_default;
    *offset_unity = c->offset_default;
    *gain_rn = c->gain_default;
    *offset_rn = c->offset_default;
    return OK;
}

API int ASIGetDroppedFrames(int id, int *dropped) {
    LOOKUP(id, 1);
    *dropped = 0;
    return OK;
}

API int ASIEnableDarkSubtract(int id, char *path) {
    (void)path;
    LOOKUP(id, 1);
    return E_INVALID_PATH;
}

API int ASIDisableDarkSubtract(int id) {
    LOOKUP(id, 1);
    return OK;
}

API int ASIStartVideoCapture(int id) {
    LOOKUP(id, 1);
    return E_GENERAL_ERROR; /* video mode is not faked */
}

API int ASIStopVideoCapture(int id) {
    LOOKUP(id, 1);
    return OK;
}

API int ASIGetVideoData(int id, unsigned char *buffer, long size, int wait_ms) {
    (void)buffer; (void)size; (void)wait_ms;
    LOOKUP(id, 1);
    return E_TIMEOUT;
}

API int ASIPulseGuideOn(int id, int direction) {
    (void)direction;
    LOOKUP(id, 1);
    return OK;
}

API int ASIPulseGuideOff(int id, int direction) {
    (void)direction;
    LOOKUP(id, 1);
    return OK;
}

API int ASISendSoftTrigger(int id, int start) {
    (void)start;
    LOOKUP(id, 1);
    return E_INVALID_MODE;
}

API int ASISetTriggerOutputIOConf(int id, int pin, int high, long delay, long duration) {
    (void)pin; (void)high; (void)delay; (void)duration;
    LOOKUP(id, 1);
    return E_INVALID_MODE;
}

API int ASIGetTriggerOutputIOConf(int id, int pin, int *high, long *delay, long *duration) {
    (void)pin; (void)high; (void)delay; (void)duration;
    LOOKUP(id, 1);
    return E_INVALID_MODE;
}
