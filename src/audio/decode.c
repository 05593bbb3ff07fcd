/* Audio decoding (libsndfile through sf_open_virtual on an in-memory copy of the file),
 * resampling (libsamplerate), WAV writing (atomic, src/io) and energy-based trimming.
 *
 * Every file is read whole into memory and decoded from there, so paths and memory
 * buffers (the fuzz target) take one code path. libsndfile adjusts a WAV's frame count
 * silently when the data chunk claims more bytes than the file holds; we walk the RIFF
 * chunks ourselves first and call that file truncated. */
#include "audio/audio_internal.h"
#include "finetune/io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AU_MAX_FILE ((size_t)2 << 30)   /* 2 GiB */
#define AU_BLOCK 8192                   /* interleaved floats per sf_read_float call */

ft_audio_opts ft_audio_opts_default(void) {
    ft_audio_opts o;
    memset(&o, 0, sizeof o);
    o.resample = true;
    o.quality = FT_RESAMPLE_MEDIUM;
    o.on_clip = FT_AUDIO_CLIP;
    o.on_nonfinite = FT_AUDIO_FAIL;
    return o;
}

/* ---- buffers ---- */

ft_status au_buf_reserve(au_buf *b, int64_t n, const char *name) {
    if (n <= b->cap) return FT_OK;
    int64_t nc = b->cap ? b->cap : 1024;
    while (nc < n) nc *= 2;
    float *np = b->plain ? realloc(b->p, (size_t)nc * sizeof *np) : ft_realloc(b->p, (size_t)nc * sizeof *np);
    if (!np) return ft_fail(FT_ENOMEM, "%s: out of memory for %lld audio samples", name, (long long)nc);
    b->p = np;
    b->cap = nc;
    return FT_OK;
}

void au_buf_release(au_buf *b) {
    if (b->plain) free(b->p);
    else ft_free(b->p);
    b->p = NULL;
    b->cap = 0;
}

ft_status au_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len) {
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", path);
        return ft_fail(FT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { close(fd); return ft_fail(FT_EIO, "%s: cannot stat: %s", path, strerror(errno)); }
    if (!S_ISREG(sb.st_mode)) { close(fd); return ft_fail(FT_EINVAL, "%s: not a regular file", path); }
    if ((size_t)sb.st_size > AU_MAX_FILE) {
        close(fd);
        return ft_fail(FT_EFORMAT, "%s: %lld bytes, more than the 2 GiB an audio file may have", path,
                       (long long)sb.st_size);
    }
    size_t want = (size_t)sb.st_size + 1;
    if (want > *cap) {
        uint8_t *nb = realloc(*buf, want);
        if (!nb) { close(fd); return ft_fail(FT_ENOMEM, "%s: out of memory for %zu bytes", path, want); }
        *buf = nb;
        *cap = want;
    }
    size_t got = 0;
    while (got < *cap) {
        ssize_t r = read(fd, *buf + got, *cap - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return ft_fail(FT_EIO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        got += (size_t)r;
        if (got == *cap) { /* the file grew since fstat */
            close(fd);
            return ft_fail(FT_EIO, "%s: file changed while being read", path);
        }
    }
    close(fd);
    *len = got;
    return FT_OK;
}

/* ---- libsndfile virtual I/O over a memory buffer ---- */

typedef struct {
    const uint8_t *p;
    sf_count_t len, pos;
} vio;

static sf_count_t v_len(void *u) { return ((vio *)u)->len; }
static sf_count_t v_seek(sf_count_t off, int whence, void *u) {
    vio *v = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? v->pos : v->len;
    sf_count_t np = base + off;
    if (np < 0) np = 0;
    if (np > v->len) np = v->len;
    v->pos = np;
    return np;
}
static sf_count_t v_read(void *ptr, sf_count_t count, void *u) {
    vio *v = u;
    if (count <= 0) return 0;
    sf_count_t n = v->len - v->pos;
    if (n > count) n = count;
    if (n > 0) memcpy(ptr, v->p + v->pos, (size_t)n);
    v->pos += n;
    return n;
}
static sf_count_t v_write(const void *ptr, sf_count_t count, void *u) { return 0; }
static sf_count_t v_tell(void *u) { return ((vio *)u)->pos; }

static uint32_t rd32le(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* RIFF/WAVE: a data chunk declaring more bytes than follow it means the file was cut
 * short. 0 and >= 0x7fffffff are the placeholders streaming writers leave. */
static ft_status check_riff(const uint8_t *b, size_t len, const char *name) {
    if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4)) return FT_OK;
    size_t pos = 12;
    while (pos + 8 <= len) {
        uint32_t sz = rd32le(b + pos + 4);
        if (!memcmp(b + pos, "data", 4)) {
            size_t avail = len - (pos + 8);
            if (sz != 0 && sz < 0x7fffffffu && sz > avail)
                return ft_fail(FT_EFORMAT, "%s: truncated WAV: the data chunk declares %u bytes, the file holds %zu",
                               name, sz, avail);
            return FT_OK;
        }
        pos += 8 + (size_t)sz + (sz & 1);
        if (pos < 8) break;
    }
    return FT_OK;
}

static const char *major_name(int f) {
    switch (f & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_WAVEX: return "WAV (extensible)";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_OGG: return "Ogg";
    case SF_FORMAT_RAW: return "raw";
    default: return "audio";
    }
}

static const char *sub_name(int f) {
    switch (f & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: return "PCM 8-bit";
    case SF_FORMAT_PCM_U8: return "PCM 8-bit unsigned";
    case SF_FORMAT_PCM_16: return "PCM 16-bit";
    case SF_FORMAT_PCM_24: return "PCM 24-bit";
    case SF_FORMAT_PCM_32: return "PCM 32-bit";
    case SF_FORMAT_FLOAT: return "float 32-bit";
    case SF_FORMAT_DOUBLE: return "float 64-bit";
    case SF_FORMAT_ULAW: return "u-law";
    case SF_FORMAT_ALAW: return "A-law";
    case SF_FORMAT_IMA_ADPCM: return "IMA ADPCM";
    case SF_FORMAT_MS_ADPCM: return "MS ADPCM";
    case SF_FORMAT_GSM610: return "GSM 6.10";
    case SF_FORMAT_VORBIS: return "Vorbis";
    case SF_FORMAT_OPUS: return "Opus";
    default: return "other encoding";
    }
}

static bool is_float_sub(int f) {
    int s = f & SF_FORMAT_SUBMASK;
    return s == SF_FORMAT_FLOAT || s == SF_FORMAT_DOUBLE;
}

/* The WAV format tag of a RIFF/WAVE file's fmt chunk, or -1. */
static int riff_format_tag(const uint8_t *b, size_t len) {
    if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4)) return -1;
    size_t pos = 12;
    while (pos + 10 <= len) {
        uint32_t sz = rd32le(b + pos + 4);
        if (!memcmp(b + pos, "fmt ", 4)) return b[pos + 8] | b[pos + 9] << 8;
        pos += 8 + (size_t)sz + (sz & 1);
        if (pos < 8) break;
    }
    return -1;
}

/* libsndfile's reason for refusing a file, as our status. */
static ft_status sf_open_fail(SNDFILE *sf, const char *name, const uint8_t *buf, size_t len) {
    int e = sf_error(sf);
    const char *why = sf_error_number(e);
    if (len == 0) return ft_fail(FT_EFORMAT, "%s: empty file (0 bytes)", name);
    int tag = riff_format_tag(buf, len);
    /* Tags libsndfile decodes: PCM, MS ADPCM, float, A-law, u-law, IMA ADPCM, GSM 6.10,
     * G.721/G.723, MPEG (libmpg123 builds) and WAVE_FORMAT_EXTENSIBLE. */
    static const int known[] = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0040, 0x0014,
                                0x0050, 0x0055, 0xFFFE};
    bool is_known = tag < 0;
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) is_known |= tag == known[k];
    if (!is_known)
        return ft_fail(FT_EUNSUPPORTED, "%s: unsupported WAV encoding (format tag 0x%04x; libsndfile: %s)", name, tag,
                       why);
    if (e == SF_ERR_UNRECOGNISED_FORMAT)
        return ft_fail(FT_EFORMAT, "%s: not an audio file libsndfile can read (%s)", name, why);
    if (e == SF_ERR_UNSUPPORTED_ENCODING)
        return ft_fail(FT_EUNSUPPORTED, "%s: unsupported audio encoding (%s)", name, why);
    return ft_fail(FT_EFORMAT, "%s: cannot read audio header (%s)", name, why);
}

ft_status au_decode(const uint8_t *buf, size_t len, const char *name, const ft_audio_opts *o, au_buf *out,
                    int64_t *n_out, ft_audio *info) {
    *n_out = 0;
    ft_status st = check_riff(buf, len, name);
    if (st) return st;
    vio v = {buf, (sf_count_t)len, 0};
    SF_VIRTUAL_IO io = {v_len, v_seek, v_read, v_write, v_tell};
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &si, &v);
    if (!sf) return sf_open_fail(NULL, name, buf, len);
    if (info) {
        info->file_rate = si.samplerate;
        info->file_channels = si.channels;
        info->file_frames = si.frames;
        snprintf(info->format, sizeof info->format, "%s %s", major_name(si.format), sub_name(si.format));
        info->clipped = info->full_scale = info->nonfinite = 0;
    }
    if (si.channels < 1 || si.channels > 1024) {
        sf_close(sf);
        return ft_fail(FT_EFORMAT, "%s: %d channels", name, si.channels);
    }
    if (si.samplerate < 1 || si.samplerate > FT_AUDIO_MAX_RATE) {
        sf_close(sf);
        return ft_fail(FT_EFORMAT, "%s: sample rate %d Hz is not in [1, %d]", name, si.samplerate, FT_AUDIO_MAX_RATE);
    }
    if (si.frames <= 0) {
        sf_close(sf);
        return ft_fail(FT_EFORMAT, "%s: no audio samples (0 frames)", name);
    }
    if (si.frames > FT_AUDIO_MAX_SAMPLES && si.frames != SF_COUNT_MAX) {
        sf_close(sf);
        return ft_fail(FT_EFORMAT, "%s: %lld frames, more than the %lld a clip may have", name, (long long)si.frames,
                       (long long)FT_AUDIO_MAX_SAMPLES);
    }
    sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    bool flt = is_float_sub(si.format);
    int ch = si.channels;
    /* Start from the header's count, bounded by what the bytes could hold (8 samples a
     * byte covers every uncompressed and ADPCM/GSM encoding); FLAC/Vorbis grow below. */
    int64_t guess = si.frames;
    if (guess > (int64_t)len * 8 / ch + 1024) guess = (int64_t)len * 8 / ch + 1024;
    if ((st = au_buf_reserve(out, guess, name))) { sf_close(sf); return st; }
    float tmp[AU_BLOCK];
    sf_count_t per = AU_BLOCK / ch;
    int64_t n = 0, clipped = 0, full = 0, nonfin = 0;
    for (;;) {
        sf_count_t got = sf_readf_float(sf, tmp, per);
        if (got <= 0) break;
        if (n + got > FT_AUDIO_MAX_SAMPLES) {
            sf_close(sf);
            return ft_fail(FT_EFORMAT, "%s: more than %lld frames", name, (long long)FT_AUDIO_MAX_SAMPLES);
        }
        if ((st = au_buf_reserve(out, n + got, name))) { sf_close(sf); return st; }
        for (sf_count_t k = 0; k < got; k++) {
            float s = 0;
            bool bad = false;
            for (int c = 0; c < ch; c++) {
                float x = tmp[k * ch + c];
                if (!isfinite(x)) { bad = true; x = 0; }
                s += x;
            }
            if (ch > 1) s /= (float)ch;
            if (bad) {
                if (o->on_nonfinite != FT_AUDIO_ZERO) {
                    sf_close(sf);
                    return ft_fail(FT_EFORMAT, "%s: sample %lld is NaN or infinite (non-finite samples are refused)",
                                   name, (long long)(n + k));
                }
                nonfin++;
            }
            if (s > 1.0f || s < -1.0f) {
                if (o->on_clip == FT_AUDIO_FAIL) {
                    sf_close(sf);
                    return ft_fail(FT_EFORMAT, "%s: sample %lld is %g, outside [-1, 1] (clipping is off)", name,
                                   (long long)(n + k), (double)s);
                }
                s = s > 1.0f ? 1.0f : -1.0f;
                clipped++;
            }
            if (fabsf(s) >= 32767.0f / 32768.0f) full++;
            out->p[n + k] = s;
        }
        n += got;
    }
    int err = sf_error(sf);
    sf_close(sf);
    if (err != SF_ERR_NO_ERROR && n == 0)
        return ft_fail(FT_EFORMAT, "%s: cannot decode audio (%s)", name, sf_error_number(err));
    if (n == 0) return ft_fail(FT_EFORMAT, "%s: no audio samples could be decoded", name);
    if (si.frames != SF_COUNT_MAX && n < si.frames)
        return ft_fail(FT_EFORMAT, "%s: truncated: the header promises %lld frames, only %lld could be decoded",
                       name, (long long)si.frames, (long long)n);
    (void)flt;
    if (info) {
        info->clipped = clipped;
        info->full_scale = full;
        info->nonfinite = nonfin;
    }
    *n_out = n;
    return FT_OK;
}

/* ---- public decode ---- */

static ft_status opts_check(const ft_audio_opts *in, ft_audio_opts *o) {
    *o = in ? *in : ft_audio_opts_default();
    if (o->target_rate < 0 || o->target_rate > FT_AUDIO_MAX_RATE)
        return ft_fail(FT_EINVAL, "audio target rate %d Hz is not in [0, %d]", o->target_rate, FT_AUDIO_MAX_RATE);
    if ((unsigned)o->quality > FT_RESAMPLE_LINEAR)
        return ft_fail(FT_EINVAL, "resampling quality %d is not one of FT_RESAMPLE_*", (int)o->quality);
    return FT_OK;
}

static ft_status decode_public(const uint8_t *buf, size_t len, const char *name, const ft_audio_opts *opts,
                               ft_audio *out) {
    memset(out, 0, sizeof *out);
    ft_audio_opts o;
    ft_status st = opts_check(opts, &o);
    if (st) return st;
    au_buf b = {0};
    int64_t n;
    ft_audio info;
    memset(&info, 0, sizeof info);
    if ((st = au_decode(buf, len, name, &o, &b, &n, &info))) { au_buf_release(&b); return st; }
    *out = info;
    out->sample_rate = info.file_rate;
    if (o.target_rate && o.target_rate != info.file_rate) {
        if (!o.resample) {
            au_buf_release(&b);
            memset(out, 0, sizeof *out);
            return ft_fail(FT_EINVAL, "%s: sample rate %d Hz, %d Hz expected (resampling is off)", name,
                           info.file_rate, o.target_rate);
        }
        int64_t m = ft_resample_length(n, info.file_rate, o.target_rate);
        float *r = ft_malloc((size_t)(m > 0 ? m : 1) * sizeof *r);
        if (!r) { au_buf_release(&b); memset(out, 0, sizeof *out); return ft_fail(FT_ENOMEM, "%s: out of memory resampling", name); }
        if ((st = ft_resample(b.p, n, info.file_rate, o.target_rate, o.quality, r))) {
            ft_free(r); au_buf_release(&b); memset(out, 0, sizeof *out);
            return ft_fail_context(st, "%s", name);
        }
        au_buf_release(&b);
        out->data = r;
        out->n = m;
        out->sample_rate = o.target_rate;
        return FT_OK;
    }
    out->data = b.p;
    out->n = n;
    return FT_OK;
}

ft_status ft_audio_decode_memory(const void *data, size_t len, const char *name, const ft_audio_opts *opts,
                                 ft_audio *out) {
    if (!name) name = "<memory>";
    if (!data && len) { memset(out, 0, sizeof *out); return ft_fail(FT_EINVAL, "%s: no data", name); }
    return decode_public(data ? data : (const uint8_t *)"", len, name, opts, out);
}

ft_status ft_audio_load(const char *path, const ft_audio_opts *opts, ft_audio *out) {
    memset(out, 0, sizeof *out);
    if (!path) return ft_fail(FT_EINVAL, "ft_audio_load: no path");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    ft_status st = au_read_file(path, &buf, &cap, &len);
    if (!st) st = decode_public(buf, len, path, opts, out);
    free(buf);
    return st;
}

ft_status ft_audio_probe(const char *path, ft_audio *out) {
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    ft_status st = au_read_file(path, &buf, &cap, &len);
    if (!st) st = check_riff(buf, len, path);
    if (!st) {
        vio v = {buf, (sf_count_t)len, 0};
        SF_VIRTUAL_IO io = {v_len, v_seek, v_read, v_write, v_tell};
        SF_INFO si;
        memset(&si, 0, sizeof si);
        SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &si, &v);
        if (!sf) {
            st = sf_open_fail(NULL, path, buf, len);
        } else {
            out->file_rate = out->sample_rate = si.samplerate;
            out->file_channels = si.channels;
            out->file_frames = si.frames;
            snprintf(out->format, sizeof out->format, "%s %s", major_name(si.format), sub_name(si.format));
            sf_close(sf);
        }
    }
    free(buf);
    return st;
}

void ft_audio_free(ft_audio *a) {
    if (!a) return;
    ft_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- resampling ---- */

int64_t ft_resample_length(int64_t n, int rate_in, int rate_out) {
    if (n <= 0 || rate_in <= 0 || rate_out <= 0) return 0;
    if (rate_in == rate_out) return n;
    return (int64_t)floor((double)n * rate_out / rate_in + 0.5);
}

static const int src_kind[] = {SRC_SINC_BEST_QUALITY, SRC_SINC_MEDIUM_QUALITY, SRC_SINC_FASTEST, SRC_ZERO_ORDER_HOLD,
                               SRC_LINEAR};

ft_status ft_resample_ratio(const float *in, int64_t n, double ratio, ft_resample_quality q, float *out,
                            int64_t n_out) {
    if (!(ratio >= 1.0 / 256 && ratio <= 256))
        return ft_fail(FT_EINVAL, "resampling ratio %g is not in [1/256, 256]", ratio);
    if ((unsigned)q > FT_RESAMPLE_LINEAR) return ft_fail(FT_EINVAL, "resampling quality %d is not one of FT_RESAMPLE_*", (int)q);
    if (n <= 0 || n_out <= 0) return FT_OK;
    if (ratio == 1.0) {
        int64_t k = n < n_out ? n : n_out;
        memcpy(out, in, (size_t)k * sizeof *out);
        for (int64_t j = k; j < n_out; j++) out[j] = in[n - 1];
        return FT_OK;
    }
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = in;
    d.input_frames = (long)n;
    d.data_out = out;
    d.output_frames = (long)n_out;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    int e = src_simple(&d, src_kind[q], 1);
    if (e) return ft_fail(FT_EINVAL, "libsamplerate: %s", src_strerror(e));
    int64_t got = d.output_frames_gen;
    float last = got > 0 ? out[got - 1] : 0.0f;
    for (int64_t j = got; j < n_out; j++) out[j] = last;
    return FT_OK;
}

ft_status ft_resample(const float *in, int64_t n, int rate_in, int rate_out, ft_resample_quality q, float *out) {
    if (rate_in < 1 || rate_in > FT_AUDIO_MAX_RATE || rate_out < 1 || rate_out > FT_AUDIO_MAX_RATE)
        return ft_fail(FT_EINVAL, "resampling %d Hz -> %d Hz: rates must be in [1, %d]", rate_in, rate_out,
                       FT_AUDIO_MAX_RATE);
    return ft_resample_ratio(in, n, (double)rate_out / rate_in, q, out, ft_resample_length(n, rate_in, rate_out));
}

/* ---- WAV writer ---- */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

ft_status ft_audio_write_wav(const char *path, const float *x, int64_t n, int sample_rate, int bits) {
    if (bits != 16 && bits != 24 && bits != 32)
        return ft_fail(FT_EINVAL, "%s: WAV bits %d is not 16, 24 (PCM) or 32 (float)", path, bits);
    if (sample_rate < 1 || sample_rate > FT_AUDIO_MAX_RATE)
        return ft_fail(FT_EINVAL, "%s: sample rate %d Hz is not in [1, %d]", path, sample_rate, FT_AUDIO_MAX_RATE);
    int bps = bits / 8;
    if (n < 0 || (uint64_t)n * bps > 0xffffffffu - 64)
        return ft_fail(FT_EINVAL, "%s: %lld samples do not fit a WAV file", path, (long long)n);
    size_t data = (size_t)n * bps, total = 44 + data;
    uint8_t *b = ft_malloc(total);
    if (!b) return ft_fail(FT_ENOMEM, "%s: out of memory for %zu bytes", path, total);
    memcpy(b, "RIFF", 4);
    put32(b + 4, (uint32_t)(total - 8));
    memcpy(b + 8, "WAVEfmt ", 8);
    put32(b + 16, 16);
    put16(b + 20, bits == 32 ? 3 : 1); /* WAVE_FORMAT_IEEE_FLOAT : PCM */
    put16(b + 22, 1);
    put32(b + 24, (uint32_t)sample_rate);
    put32(b + 28, (uint32_t)(sample_rate * bps));
    put16(b + 32, (uint32_t)bps);
    put16(b + 34, (uint32_t)bits);
    memcpy(b + 36, "data", 4);
    put32(b + 40, (uint32_t)data);
    uint8_t *p = b + 44;
    for (int64_t k = 0; k < n; k++, p += bps) {
        float v = x[k];
        if (bits == 32) {
            uint32_t u;
            memcpy(&u, &v, 4);
            put32(p, u);
            continue;
        }
        if (!(v == v)) v = 0;
        if (v > 1) v = 1;
        if (v < -1) v = -1;
        double full = bits == 16 ? 32768.0 : 8388608.0;
        long q = lrint(v * full);
        if (q > (long)full - 1) q = (long)full - 1;
        if (q < -(long)full) q = -(long)full;
        uint32_t u = (uint32_t)q;
        p[0] = (uint8_t)u;
        p[1] = (uint8_t)(u >> 8);
        if (bits == 24) p[2] = (uint8_t)(u >> 16);
    }
    ft_status st = ft_write_file_atomic(path, b, total);
    ft_free(b);
    return st;
}

/* ---- trimming ---- */

void ft_audio_trim(const float *x, int64_t n, float top_db, int frame, int hop, int64_t *start, int64_t *len) {
    *start = 0;
    *len = n;
    if (n <= 0 || !(top_db > 0) || frame < 1 || hop < 1) return;
    int64_t nf = n <= frame ? 1 : 1 + (n - frame + hop - 1) / hop;
    double peak = 0;
    for (int64_t f = 0; f < nf; f++) {
        int64_t a = f * hop, b = a + frame < n ? a + frame : n;
        double e = 0;
        for (int64_t k = a; k < b; k++) e += (double)x[k] * x[k];
        e /= (double)frame;
        if (e > peak) peak = e;
    }
    if (!(peak > 0)) return;
    double thr = peak * pow(10.0, -top_db / 10.0); /* power ratio */
    int64_t first = -1, last = -1;
    for (int64_t f = 0; f < nf; f++) {
        int64_t a = f * hop, b = a + frame < n ? a + frame : n;
        double e = 0;
        for (int64_t k = a; k < b; k++) e += (double)x[k] * x[k];
        e /= (double)frame;
        if (e > thr) {
            if (first < 0) first = f;
            last = f;
        }
    }
    if (first < 0) return;
    int64_t a = first * hop, b = last * hop + frame;
    if (b > n) b = n;
    *start = a;
    *len = b - a;
}

/* ---- RNG ---- */

uint64_t au_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void au_rng(ft_pcg32 *r, uint64_t seed, int64_t epoch, int64_t i) {
    ft_pcg32_seed(r, au_splitmix64(seed ^ au_splitmix64((uint64_t)epoch + 1)), (uint64_t)i);
}

float au_gauss(ft_pcg32 *r) {
    double u1 = ((double)ft_pcg32_next(r) + 1.0) / 4294967296.0; /* (0, 1] */
    double u2 = (double)ft_pcg32_next(r) / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
