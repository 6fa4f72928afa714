/*
 * geo — positions from the receptions of LoRa frames.
 *
 * Geodesy (WGS-84, ECEF, local east-north-up), the solvers (`nls` time-of-arrival least
 * squares, the closed-form `lls`, the thesis' `grid`, `rssi` ranging, `hybrid`), their quality
 * figures (covariance accuracy, GDOP, Cramér-Rao bound), and the many-frame tools
 * (Generalized ESD outlier test, sample mean, constant-velocity Kalman filter, planner).
 *
 * Units: angles in degrees at the interface (radians inside), lengths in metres, times
 * in int64 nanoseconds (absolute GPS/UTC times never pass through a double), powers in
 * dBm, ratios in dB. The speed of light is LG_GEO_C_MPS.
 */
#ifndef LG_GEO_H
#define LG_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_GEO_C_MPS  299792458.0
#define LG_PI         3.14159265358979323846
#define LG_GEO_MAX_RX 64 /* receptions one fix may use */

/* ---- geodesy (geodesy.c) ------------------------------------------------------ */

/* WGS-84 (NIMA TR8350.2): a = 6378137 m, f = 1/298.257223563. */
#define LG_WGS84_A 6378137.0
#define LG_WGS84_F (1.0 / 298.257223563)

struct lg_geodetic {
  double lat_deg, lon_deg, alt_m; /* ellipsoidal height */
};

/* Geodetic → Earth-centred Earth-fixed (exact, closed form). */
void lg_geo_to_ecef(const struct lg_geodetic *g, double ecef[3]);
/* ECEF → geodetic, iterated to < 1e-12 rad and 1e-6 m everywhere above 100 km from
 * the Earth's centre (poles and equator included). */
void lg_geo_from_ecef(const double ecef[3], struct lg_geodetic *g);

/* A local east-north-up frame tangent to the ellipsoid at `origin`. */
struct lg_enu_frame {
  struct lg_geodetic origin;
  double origin_ecef[3];
  double rot[3][3]; /* rows: east, north, up unit vectors in ECEF */
};

void lg_enu_init(struct lg_enu_frame *f, const struct lg_geodetic *origin);
void lg_enu_from_ecef(const struct lg_enu_frame *f, const double ecef[3], double enu[3]);
void lg_enu_to_ecef(const struct lg_enu_frame *f, const double enu[3], double ecef[3]);
void lg_enu_from_geodetic(const struct lg_enu_frame *f, const struct lg_geodetic *g, double enu[3]);
void lg_enu_to_geodetic(const struct lg_enu_frame *f, const double enu[3], struct lg_geodetic *g);

/* Geodesic distance on the WGS-84 ellipsoid (Karney's algorithm, PROJ geodesic.h). */
double lg_geo_distance_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg);
/* Geocentric radius of the WGS-84 ellipsoid at a latitude (thesis eq. 4.16). */
double lg_geo_earth_radius_m(double lat_deg);
/* The thesis' haversine (eq. 4.15-4.18) with the WGS-84 radius at the mean latitude
 * (eq. 4.16); kept for reproducing its `grid` algorithm and for comparison. */
double lg_geo_haversine_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg);

/* ---- path loss (rssi.c) ------------------------------------------------------- */

/* Log-distance model: RSSI = tx_power - pl0 - 10 n log10(d / d0) + N(0, sigma). */
struct lg_pathloss {
  double tx_power_dbm; /* EIRP plus receive antenna gain */
  double pl0_db;       /* path loss at d0 */
  double d0_m;
  double exponent; /* n */
  double sigma_db; /* shadowing */
};

/* Defaults: the Oulu measurements (Petäjäjärvi et al. 2015, as used by FLoRa):
 * PL(1 km) = 128.95 dB, n = 2.32, sigma 7.8 dB, 14 dBm EIRP. */
struct lg_pathloss lg_pathloss_default(void);
/* Free space (Friis, 001_*.txt): n = 2, d0 = 1 m, PL0 = 20 log10(4 pi f / c). */
struct lg_pathloss lg_pathloss_friis(double freq_hz, double tx_power_dbm);
/* Expected RSSI (dBm) at distance d (m, clamped to >= 1 m). */
double lg_pathloss_rssi(const struct lg_pathloss *m, double dist_m);
/* Distance (m) at which the model expects `rssi_dbm`. */
double lg_pathloss_distance(const struct lg_pathloss *m, double rssi_dbm);

/* ---- one frame ---------------------------------------------------------------- */

/* One gateway's reception of a frame. */
struct lg_geo_rx {
  double lat_deg, lon_deg, alt_m; /* the gateway antenna */
  bool has_time;
  int64_t time_ns; /* GPS-synchronised receive time, ns (any epoch, same for all) */
  double sigma_ns; /* timing standard deviation; <= 0: the solver's default */
  bool has_rssi;
  double rssi_dbm;
  bool has_ecef; /* the caller has the antenna's ECEF (m) at hand: not converted again */
  double ecef[3];
  const char *name; /* the gateway's name (fingerprinting looks it up); may be NULL */
};

enum lg_geo_method {
  LG_GEO_AUTO = 0,
  LG_GEO_NLS,         /* time of arrival, Levenberg-Marquardt, robust to NLOS */
  LG_GEO_LLS,         /* closed form: spherical intersection, the best-fitting reference */
  LG_GEO_GRID,        /* thesis §4.6.2 grid search with haversine distances */
  LG_GEO_RSSI,        /* log-distance ranging, least squares in dB */
  LG_GEO_HYBRID,      /* time of arrival with RSSI as a weak prior */
  LG_GEO_FINGERPRINT, /* radio map learned from ground truth (fingerprint.c) */
  LG_GEO_KNN,         /* baseline: weighted kNN in signal space over the radio map's points */
  LG_GEO_CENTROID,    /* baseline: RSSI-weighted centroid of the hearing gateways */
  LG_GEO_METHOD_COUNT
};

const char *lg_geo_method_name(enum lg_geo_method m);
/* Parses "auto", "nls", ...; LG_EINVAL for another name. */
int lg_geo_method_parse(const char *name, enum lg_geo_method *m);

struct lg_geo_opts {
  enum lg_geo_method method;
  int min_gateways;    /* timed receptions for TDOA (auto), default 3 */
  double device_alt_m; /* assumed device height (2D solutions), default 0 */
  bool solve_altitude; /* 3D: estimate the height too (needs 5+ gateways) */
  double sigma_ns;     /* default timing noise, default 50 ns */
  /* How much the default sigma_ns is trusted against the residuals, in degrees of
   * freedom of a scaled inverse chi-square prior: default 2 (a guess the residuals
   * correct); >= 1e6: known. Receptions that carry their own sigma_ns are known. */
  double sigma_prior_dof;
  bool robust;         /* detect and drop NLOS-delayed receptions, default true */
  /* Reflections the residuals cannot show (nlos.c): the share of timed receptions that
   * arrive by a reflected path, and their mean delay (exponential). With a share > 0 the
   * radii are those of that mixture and a fit whose residuals make one late reception
   * likelier than none takes it out. Default 0: Gaussian noise alone. */
  double nlos_share;
  double nlos_delay_ns;
  double grid_step_m;  /* `grid`: step, default 10 m (thesis: 0.0001 deg) */
  struct lg_pathloss pathloss;
  const struct lg_radio_map *radio_map; /* fingerprint/knn (and auto): NULL without one */
};

/* The defaults above. */
struct lg_geo_opts lg_geo_opts_default(void);


struct lg_geo_fix {
  double lat_deg, lon_deg, alt_m;
  enum lg_geo_method method; /* the solver that produced it (never AUTO) */
  double accuracy_m;         /* radius holding the true position with 68 % probability */
  double accuracy_95_m;      /* the same at 95 % */
  double gdop;               /* geometric dilution of precision (unit timing noise) */
  double residual_m;         /* RMS of the receptions' residuals */
  int gateways_used;
  uint64_t excluded; /* bit i: reception i rejected (NLOS or no data) */
  /* bit i: reception i's time disagreed with the frame's other receptions and the known
   * geometry (left out to bring a fit in range, or dropped by the reflection test): kept
   * out of the fix. A subset of `excluded`; a forged or faulty timestamp shows here. */
  uint64_t timing_outliers;
  double cov_en[3];  /* horizontal covariance (m^2): ee, en, nn */
  double chi2;       /* time-of-arrival fits: the residuals' chi-square at the assumed sigma */
  int dof;           /* and its degrees of freedom (0: exactly determined) */
  /* Three timed gateways can fit two positions exactly (the two roots of the
   * intersection): the other one, when it lies within range too. */
  int n_alternatives;
  struct lg_geodetic alternatives[1];
};

/*
 * The timing noise a set of fixes shows, as a factor on the sigma they were solved
 * with: the 25th percentile over fixes of chi2 / (the same quantile of chi-square(dof)),
 * fixes with dof >= 1 only (reflections only add to chi2: a low quantile stays right
 * while most frames carry one). Returns 0 when fewer than 20 fixes have residual degrees
 * of freedom.
 */
double lg_geo_noise_factor(const struct lg_geo_fix *fixes, size_t n);

/* Solver workspace: GSL contexts allocated once and reused. */
struct lg_geo_solver;

/*
 * Learning the reflection model (lg_geo_opts.nlos_share, nlos_delay_ns) from fits: a
 * solver told to keep them (lg_geo_solver_keep_rows) holds its last time-of-arrival fit's
 * evidence, which lg_geo_solver_nlos_rows adds to a set of frames; lg_geo_nlos_learn
 * fits the share and the mean delay to the set (expectation-maximisation; the
 * receptions the reflection test dropped count as late by what their fit says), given
 * the timing noise in metres the fits were solved with. LG_EINVAL with fewer than 50
 * frames; LG_ENOTFOUND when the fits do not support reflections (too few receptions
 * whose residuals could show one, or a likelihood not clearly above Gaussian noise
 * alone's: 2 log-ratio under chi-square(2)'s 99.9 % quantile).
 */
struct lg_geo_nlos_frames;
struct lg_geo_nlos_frames *lg_geo_nlos_frames_new(void);
void lg_geo_nlos_frames_free(struct lg_geo_nlos_frames *f);
size_t lg_geo_nlos_frames_count(const struct lg_geo_nlos_frames *f);
void lg_geo_solver_keep_rows(struct lg_geo_solver *s, bool keep);
/* scale: the rows' evidence weighed as if solved at a noise 1/sqrt(scale) of theirs (1: as
 * they are; the live server's noise scale moves between its fits) */
int lg_geo_solver_nlos_rows(const struct lg_geo_solver *s, struct lg_geo_nlos_frames *frames,
                            double scale);
int lg_geo_nlos_learn(const struct lg_geo_nlos_frames *f, double sigma_m, double *share,
                      double *delay_m);
/* The same in steps, for a caller that cannot wait for the whole fit (the live server):
 * start (warm from a model learned before, when share > 0), one EM iteration a step (true
 * once converged), then the verdict (lg_geo_nlos_learn's returns). */
struct lg_geo_nlos_fit {
  double sigma_m, share, delay_m;
  int iterations;
  bool done;
};
void lg_geo_nlos_fit_start(struct lg_geo_nlos_fit *fit, double sigma_m, double share,
                           double delay_m);
bool lg_geo_nlos_fit_step(const struct lg_geo_nlos_frames *f, struct lg_geo_nlos_fit *fit);
int lg_geo_nlos_fit_verdict(const struct lg_geo_nlos_frames *f, const struct lg_geo_nlos_fit *fit,
                            double *share, double *delay_m);

/* A new solver (NULL when out of memory); free with lg_geo_solver_free(). */
struct lg_geo_solver *lg_geo_solver_new(void);
void lg_geo_solver_free(struct lg_geo_solver *s);

/*
 * Locates one frame from its `n` receptions. On success fills *fix. Errors:
 * LG_EINVAL (too few usable receptions for the method, or bad coordinates),
 * LG_ETOOLONG (n > LG_GEO_MAX_RX), LG_ENOTFOUND (the solver did not converge). A reason
 * is written to `why` (may be NULL).
 */
int lg_geo_solve(struct lg_geo_solver *s, const struct lg_geo_rx *rx, size_t n,
                 const struct lg_geo_opts *o, struct lg_geo_fix *fix, char *why, size_t why_len);

/* The radius (m) holding a 2-D Gaussian of covariance cov_en {ee, en, nn} with 68 %
 * (p95 false) or 95 % probability: lg_geo_radius_for() tabulated by the solver (within
 * 0.1 %, a few dozen instructions). */
double lg_geo_solver_radius(const struct lg_geo_solver *s, const double cov_en[3], bool p95);

/*
 * Cramér-Rao bound of the horizontal position (DRMS, m) for a device at `dev` heard by
 * the `n` gateways of `rx` (times ignored) with their timing noise (sigma_ns, or
 * `o->sigma_ns`), emission time unknown, height known unless o->solve_altitude.
 * Errors: LG_EINVAL when the geometry gives no bound (too few gateways, degenerate).
 */
int lg_geo_crlb(const struct lg_geo_rx *rx, size_t n, const struct lg_geodetic *dev,
                const struct lg_geo_opts *o, double *drms_m);

/* ---- calibration (calibration.c) ------------------------------------------------ */

#define LG_CAL_MAX_GW   1024
#define LG_CAL_NAME_MAX 64

struct lg_radio_map;

/* Per-deployment corrections learned by `lorageo calibrate`. */
struct lg_calibration {
  size_t n;
  char gateway[LG_CAL_MAX_GW][LG_CAL_NAME_MAX];
  double offset_ns[LG_CAL_MAX_GW]; /* subtract from that gateway's receive times */
  bool has_path_loss;
  struct lg_pathloss path_loss;
  struct lg_radio_map *radio_map; /* the file's "radio_map", loaded; NULL without one */
};

/* Loads a calibration file and the radio map it names ("radio_map": a path relative to
 * the calibration file); LG_EINVAL with a reason on error. Release with
 * lg_calibration_close(). */
int lg_calibration_load(const char *path, struct lg_calibration *c, char *why, size_t why_len);
/* Frees what lg_calibration_load() allocated inside *c (not c itself). */
void lg_calibration_close(struct lg_calibration *c);
/* The timing offset of `gateway` (0 when it has none; c may be NULL). */
double lg_calibration_offset_ns(const struct lg_calibration *c, const char *gateway);

/* ---- many frames (stats.c) ---------------------------------------------------- */

/*
 * Generalized ESD test (Rosner 1983; thesis §4.4) on x[0..n): at most `max_outliers`
 * (capped at n - 2), significance `alpha`. Writes the number of outliers to *count and
 * marks them in is_outlier[0..n); the test statistics R_i and critical values lambda_i
 * go to r_out / lambda_out [0..max_outliers). Any output pointer may be NULL. Needs
 * n >= 3 and 0 < alpha < 1; LG_EINVAL otherwise.
 */
int lg_gesd(const double *x, size_t n, size_t max_outliers, double alpha, size_t *count,
            bool *is_outlier, double *r_out, double *lambda_out);

/* Samples needed so that the mean of a series with standard deviation `sigma` lies
 * within `tolerance` of the truth with probability `confidence` (thesis eq. 5.6):
 * n = (z sigma / tolerance)^2, z the two-sided normal quantile. */
double lg_plan_samples(double sigma, double tolerance, double confidence);

/* Constant-velocity Kalman filter on a local plane (east, north) for moving devices. */
struct lg_track {
  bool started;
  int64_t t_ns;
  double x[4];        /* e, n, ve, vn */
  double p[4][4];     /* covariance */
  double accel_sigma; /* process noise, m/s^2 (white acceleration) */
};

void lg_track_init(struct lg_track *t, double accel_sigma_mps2);
/* Folds in a position measurement (e, n) with covariance cov_en {ee, en, nn} at t_ns
 * (non-decreasing). LG_EINVAL for a time going backwards or a bad covariance. */
int lg_track_update(struct lg_track *t, int64_t t_ns, double e_m, double n_m,
                    const double cov_en[3]);
/* The squared Mahalanobis distance *d2 of a measurement from the track's prediction at
 * t_ns (innovation over P' + R): chi-square(2) for a fix that fits the motion model. 0
 * for a track not started. LG_EINVAL as lg_track_update. The track is not changed. */
int lg_track_gate(const struct lg_track *t, int64_t t_ns, double e_m, double n_m,
                  const double cov_en[3], double *d2);

/* ---- fingerprinting (fingerprint.c) -------------------------------------------- */

/* How a radio map is derived from its points (defaults measured in docs/geolocation.md). */
struct lg_fp_params {
  double cell_m;    /* cell size of the model, default 50 m */
  double kernel_m;  /* Gaussian kernel over the points, default 100 m */
  double sigma_db;  /* prior RSSI spread, default 4 dB */
  double floor_dbm; /* RSSI an unheard gateway stands for, default -125 dBm */
  double offset_db; /* spread of a frame's common RSSI offset at all gateways (its
                     * antenna, its vehicle), marginalised out; 0: none. Chosen by
                     * lg_fp_cross_validate among 0-6 dB */
  double sharpen;   /* the fix weighs the cells by their likelihood to this power:
                     * 1 = the posterior mean, larger leans towards the most likely
                     * cell; chosen by lg_fp_cross_validate among 1-3 */
  double k68, k95;  /* accuracy scales from cross-validation (0: Gaussian's) */
  double knn_k68, knn_k95; /* the same for the kNN baseline */
};

struct lg_fp_params lg_fp_params_default(void);

/* Collects training points (ground truth + receptions with RSSI and gateway names). */
struct lg_fp_builder;
struct lg_fp_builder *lg_fp_builder_new(void); /* NULL when out of memory */
void lg_fp_builder_free(struct lg_fp_builder *b);
/* Adds one frame heard at `truth`. LG_EINVAL when no reception has a name and an RSSI
 * (nothing to learn), LG_ETOOLONG for a name >= LG_CAL_NAME_MAX or more than
 * LG_CAL_MAX_GW gateways, LG_ENOMEM. */
int lg_fp_builder_add(struct lg_fp_builder *b, const struct lg_geodetic *truth,
                      const struct lg_geo_rx *rx, size_t n);
size_t lg_fp_builder_count(const struct lg_fp_builder *b);

/* Two-fold cross-validation over the builder's points: chooses p's offset_db and
 * sharpen (the pair of 0-6 dB x 1-3 with the least mean error over the held-out
 * folds, then the 8 pairs 0.5 dB / 0.25 around it), then measures how far fixes fall from the truth
 * relative to their spread and sets p's scales for accuracy_m (68 %) and accuracy_95_m, for
 * `fingerprint` and `knn`. LG_EINVAL under 40 points (p unchanged). Costs 33 locating passes over
 * the points (~1.5 s for 4,000 Antwerp points on one core). */
int lg_fp_cross_validate(const struct lg_fp_builder *b, struct lg_fp_params *p);
/* The same with p's offset_db and sharpen kept as given: the scales alone (two locating
 * passes, a sixteenth of the cost). */
int lg_fp_cross_validate_scales(const struct lg_fp_builder *b, struct lg_fp_params *p);

/* A radio map: owned by the caller, freed with lg_radio_map_free(). Read-only once built:
 * any number of threads may locate with it at once. */
int lg_fp_build(const struct lg_fp_builder *b, const struct lg_fp_params *p,
                struct lg_radio_map **out);
void lg_radio_map_free(struct lg_radio_map *m);
size_t lg_radio_map_points(const struct lg_radio_map *m);
size_t lg_radio_map_cells(const struct lg_radio_map *m);
/* Point i (< lg_radio_map_points) as it was learned: its position, and its receptions
 * (RSSI and gateway name, the names owned by the map) in rx; returns their count. */
size_t lg_radio_map_point(const struct lg_radio_map *m, size_t i, struct lg_geodetic *truth,
                          struct lg_geo_rx rx[LG_GEO_MAX_RX]);
struct lg_fp_params lg_radio_map_params(const struct lg_radio_map *m);
/* The versioned file ("format": "lorageo-radio-map", "version": 1): the parameters, the
 * gateways' names and the points; the model is derived again on load. */
int lg_radio_map_save(const struct lg_radio_map *m, const char *path);
int lg_radio_map_load(const char *path, struct lg_radio_map **out, char *why, size_t why_len);

/* Locates a frame from the names and RSSIs of its receptions. `scratch` holds
 * lg_radio_map_cells(m) doubles. LG_EINVAL (with a reason) when no reception's gateway
 * is in the map, LG_ENOTFOUND when no cell gives the frame a finite likelihood.
 * lg_geo_solve() with LG_GEO_FINGERPRINT calls this with the solver's scratch. */
int lg_radio_map_locate(const struct lg_radio_map *m, double *scratch,
                        const struct lg_geo_rx *rx, size_t n, struct lg_geo_fix *fix, char *why,
                        size_t why_len);
/* The kNN baseline over the map's points (k = 5, weights 1 / distance in dB). */
int lg_radio_map_knn(const struct lg_radio_map *m, const struct lg_geo_rx *rx, size_t n,
                     struct lg_geo_fix *fix, char *why, size_t why_len);
/* ---- many frames of one static device, solved jointly (joint.c) ---------------- */

/* One reception: frame index (0 .. n_frames - 1), gateway index, receive time. */
struct lg_joint_obs {
  uint32_t frame;
  uint32_t gw;
  int64_t time_ns;
};

struct lg_joint_gateway {
  double lat_deg, lon_deg, alt_m;
  double offset_ns; /* known fixed offset, subtracted from its times (calibration); 0 */
  double sigma_ns;  /* known noise scale (calibration); <= 0: unknown */
};

struct lg_joint_opts {
  double device_alt_m; /* the device's height (ellipsoidal), held */
  bool robust;         /* false: plain unweighted least squares (for comparison) */
  bool gateway_scales; /* estimate per-gateway noise scales from residuals when none given */
  int max_iter;        /* per IRLS stage */
};

/* device_alt_m 0, robust and gateway_scales on, max_iter 50. */
struct lg_joint_opts lg_joint_opts_default(void);

struct lg_joint_fix {
  double lat_deg, lon_deg;
  double accuracy_m;    /* radius holding the true position with 68 % probability */
  double accuracy_95_m; /* the same at 95 % */
  double cov_en[3];     /* horizontal covariance (m^2): ee, en, nn */
  double scale_ns;      /* the robust noise scale of a reception (MAD of the residuals) */
  double bias_ns;       /* the estimated spread of fixed per-gateway errors */
  size_t receptions_used;         /* with a non-zero final (Tukey) weight */
  size_t receptions_downweighted; /* weight below one half: tails, offset gateways */
  size_t frames;
  int iterations;
};

/*
 * One position for all `n_frames` frames of a static device from their `n_obs`
 * receptions at the `n_gw` gateways: one emission time per frame, robust weights (Huber
 * then Tukey IRLS, the noise scale from the residuals' MAD), calibrated offsets and
 * scales applied when given. `starts` (n_starts lat/lon pairs in degrees, may be NULL)
 * are tried besides the gateways' centroid; the end with the lowest robust objective
 * wins. Errors: LG_EINVAL (fewer than 3 gateways or receptions, indices out of range,
 * no frame heard twice, a geometry that fixes nothing), LG_ENOMEM; a reason in `why`.
 */
int lg_geo_joint_solve(const struct lg_joint_gateway *gw, size_t n_gw,
                       const struct lg_joint_obs *obs, size_t n_obs, size_t n_frames,
                       const struct lg_joint_opts *o, const double (*starts)[2], size_t n_starts,
                       struct lg_joint_fix *fix, char *why, size_t why_len);

/* The radius (m) holding a zero-mean 2-D Gaussian of horizontal covariance cov_en
 * {ee, en, nn} with probability `prob` (0..1), computed exactly; 0 for a zero covariance. */
double lg_geo_radius_for(const double cov_en[3], double prob);

/* ---- what a running server learns (live.c) ------------------------------------- */

struct lg_geo_live_opts {
  size_t max_devices;      /* Kalman tracks kept, least recently heard dropped (100,000) */
  size_t window;           /* reference frames per method in the accuracy figures (500) */
  size_t max_points;       /* reference frames kept for the radio map (5,000) */
  size_t max_gateways;     /* gateways whose offset and noise are learned (4,096) */
  double accel_sigma_mps2; /* the tracks' process noise (1 m/s^2) */
  double gate_d2;          /* outlier gate, squared Mahalanobis (13.8: chi2(2) 99.9 %) */
  bool rebuild_inline;     /* radio map rebuilt on the calling thread (false: a worker) */
};
struct lg_geo_live_opts lg_geo_live_opts_default(void);

/* A filtered position: the device's track as of a frame. */
struct lg_geo_track_point {
  double lat_deg, lon_deg;
  double accuracy_m; /* 68 % radius of the track's covariance */
  double speed_mps;
  bool outlier; /* the fix was gated out: the position is the track's prediction */
};

struct lg_geo_live;
struct lg_geo_live *lg_geo_live_new(const struct lg_geo_live_opts *o); /* NULL: no memory */
void lg_geo_live_free(struct lg_geo_live *l);
/* A radio map from the configuration, used until reference frames build one. */
void lg_geo_live_set_radio_map(struct lg_geo_live *l, const struct lg_radio_map *m);
/* lg_geo_solve() with what was learned: gateways' offsets subtracted and their noise
 * given (receptions need `name`), the measured timing noise, the radio map. */
int lg_geo_live_locate(struct lg_geo_live *l, struct lg_geo_solver *s, const struct lg_geo_rx *rx,
                       size_t n, const struct lg_geo_opts *base, struct lg_geo_fix *fix, char *why,
                       size_t why_len);
/* A frame whose true position is known (a reference device's own GPS): each method's
 * error is recorded, then the frame teaches offsets, noise and the radio map. A radio map
 * rebuild it makes due runs on the object's worker thread (up to ~1 s at 5,000 points);
 * the new map is used from the first locate or reference call after it is done. */
int lg_geo_live_reference(struct lg_geo_live *l, struct lg_geo_solver *s,
                          const struct lg_geo_rx *rx, size_t n, const struct lg_geodetic *truth,
                          const struct lg_geo_opts *base);
/* Waits until no radio map rebuild is queued or running and puts its map in use: for
 * tests, and before a final save. Only from the thread that locates. */
void lg_geo_live_wait_idle(struct lg_geo_live *l);
/* A radio map rebuild is queued or running (from any thread). */
bool lg_geo_live_rebuilding(struct lg_geo_live *l);
/* What a rebuild runs (exposed so its cost can be measured): the radio map of n reference
 * frames given oldest first, frame k's receptions rx[first[k]] .. rx[first[k] + count[k] - 1].
 * All of them build it, the newest 2,000 cross-validate its radii and, when `choose`, *p's
 * common-offset spread and power (*chosen says whether they were; *p holds what built it).
 * *out is NULL when the build failed. */
void lg_geo_live_build_map(const struct lg_geodetic *truth, const struct lg_geo_rx *rx,
                           const size_t *first, const size_t *count, size_t n, bool choose,
                           struct lg_fp_params *p, bool *chosen, struct lg_radio_map **out);
/* Median and 90th percentile of method m's errors over the last `window` reference
 * frames (m = LG_GEO_AUTO: what the server reports). LG_ENOTFOUND with none yet. Safe
 * from another thread. */
int lg_geo_live_accuracy(struct lg_geo_live *l, enum lg_geo_method m, size_t *count,
                         double *median_m, double *p90_m);
uint64_t lg_geo_live_references(struct lg_geo_live *l);
double lg_geo_live_offset_ns(const struct lg_geo_live *l, const char *gateway);
double lg_geo_live_sigma_ns(const struct lg_geo_live *l, const char *gateway);
/* The reflection model the live fits taught (share 0: none supported yet; not learned
 * when the locate calls' options give one): the share of receptions late and their mean
 * delay, ns. */
void lg_geo_live_nlos(struct lg_geo_live *l, double *share, double *delay_ns);
double lg_geo_live_noise_factor(struct lg_geo_live *l); /* safe from another thread */
/* Folds a fix into the device's track (outlier gate first); *out is the filtered
 * position as of t_ns. LG_EINVAL for a frame older than the track or no covariance. */
int lg_geo_live_track(struct lg_geo_live *l, const struct lg_geo_solver *s, uint64_t device,
                      int64_t t_ns, const struct lg_geo_fix *fix, struct lg_geo_track_point *out);
size_t lg_geo_live_tracks(const struct lg_geo_live *l);
/* What was learned, as a calibration file (`solve --calibration` reads it) and its radio
 * map beside it (PATH.radiomap.json); written to temporary files and renamed. The map file
 * holds every kept point with the parameters of the map in use; a running rebuild is
 * waited for first. Load waits for the rebuild it starts; free waits for a running one and
 * joins the worker. */
int lg_geo_live_save(struct lg_geo_live *l, const char *path, char *why, size_t why_len);
/* Where saves go: from then on every rebuild the worker runs also writes its map to
 * PATH.radiomap.json (a server sets it at start). */
void lg_geo_live_set_save_path(struct lg_geo_live *l, const char *path);
/* The periodic save of a server, which builds nothing on this thread: the calibration file
 * now, naming the map file only once a rebuild (or lg_geo_live_save) has written a map
 * there; that file holds the points of the last rebuild. Nonzero only when the calibration
 * file could not be written; a failed background map write since the last call is in why
 * (why[0] != '\0') with 0 returned. */
int lg_geo_live_save_soon(struct lg_geo_live *l, const char *path, char *why, size_t why_len);
int lg_geo_live_load(struct lg_geo_live *l, const char *path, char *why, size_t why_len);

#endif
