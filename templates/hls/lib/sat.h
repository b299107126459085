// sat_hw HLS header library: every block (sat_hw/templates/hls/lib).
#pragma once

#include "sat_add.h"
#include "sat_axis.h"
#include "sat_bias.h"
#include "sat_common.h"
#include "sat_dwc.h"
#include "sat_mvu.h"
#include "sat_pool.h"
#include "sat_swg.h"
#include "sat_thresholds.h"
#include "sat_vvu.h"
