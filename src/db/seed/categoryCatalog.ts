/**
 * The fixed marketplace vocabulary the generators draw from. Order matters: `--categories N`
 * takes the first N, so the most common marketplace categories come first.
 */
export interface CategoryTemplate {
  readonly slug: string;
  readonly name: string;
  /** Interest topics users follow in this category. */
  readonly topics: readonly string[];
  /** Things people list for sale in this category. */
  readonly items: readonly string[];
  /** Typical asking price range in USD. */
  readonly priceRange: readonly [number, number];
}

// A data table reads better one category per block than one word per line.
// prettier-ignore
export const CATEGORY_CATALOG: readonly CategoryTemplate[] = [
  {
    slug: 'electronics',
    name: 'Electronics',
    topics: ['Smartphones', 'Laptops', 'Headphones', 'Smart Home', 'Wearables', 'Home Audio', 'Drones', 'Mechanical Keyboards'],
    items: ['Wireless Earbuds', 'Noise-Cancelling Headphones', '27-inch 4K Monitor', 'Mechanical Keyboard', 'Bluetooth Speaker', 'Smartwatch', 'Gaming Laptop', '10-inch Tablet', 'USB-C Hub', 'Mesh Wi-Fi Router', 'Portable SSD 1TB'],
    priceRange: [15, 1800],
  },
  {
    slug: 'home-garden',
    name: 'Home & Garden',
    topics: ['Indoor Plants', 'Vegetable Gardening', 'Home Decor', 'Kitchen Gadgets', 'Composting', 'Lighting Design', 'Home Organization', 'Bonsai'],
    items: ['Ceramic Planter Set', 'Raised Garden Bed', 'Cast Iron Skillet', 'Stand Mixer', 'Floor Lamp', 'Wool Area Rug 5x7', 'Herb Drying Rack', 'Cordless Leaf Blower', 'Espresso Machine'],
    priceRange: [8, 650],
  },
  {
    slug: 'fashion',
    name: 'Fashion',
    topics: ['Sneakers', 'Streetwear', 'Vintage Clothing', 'Denim', 'Outerwear', 'Handbags', 'Sustainable Fashion', 'Tailoring'],
    items: ['Leather Jacket', 'Selvedge Denim Jeans', 'Running Sneakers', 'Wool Overcoat', 'Canvas Tote Bag', 'Silk Scarf', 'Hooded Sweatshirt', 'Chelsea Boots', 'Linen Shirt'],
    priceRange: [10, 450],
  },
  {
    slug: 'sports-outdoors',
    name: 'Sports & Outdoors',
    topics: ['Camping', 'Hiking', 'Rock Climbing', 'Trail Running', 'Yoga', 'Fly Fishing', 'Kayaking', 'Skiing'],
    items: ['2-Person Backpacking Tent', 'Trekking Poles', 'Climbing Harness', 'Yoga Mat', 'Fly Fishing Rod', 'Inflatable Kayak', 'Down Sleeping Bag', 'Ski Goggles', 'Trail Running Vest'],
    priceRange: [10, 900],
  },
  {
    slug: 'toys-games',
    name: 'Toys & Games',
    topics: ['Board Games', 'Jigsaw Puzzles', 'Tabletop RPGs', 'Model Trains', 'Action Figures', 'Card Games', 'Building Sets', 'Educational Toys'],
    items: ['Strategy Board Game', '1000-Piece Jigsaw Puzzle', 'Building Brick Set', 'Wooden Train Set', 'RC Car', 'Polyhedral Dice Set', 'Plush Toy', 'Trading Card Binder'],
    priceRange: [5, 300],
  },
  {
    slug: 'books',
    name: 'Books',
    topics: ['Science Fiction', 'Mystery Novels', 'Cookbooks', 'Comics', 'History', 'Poetry', 'Self-Improvement', 'Rare Books'],
    items: ['First Edition Hardcover', 'Paperback Box Set', 'Graphic Novel Collection', 'Signed Cookbook', 'Illustrated Atlas', 'Poetry Anthology', 'Classic Novel Set', 'Art Book'],
    priceRange: [3, 250],
  },
  {
    slug: 'musical-instruments',
    name: 'Musical Instruments',
    topics: ['Guitars', 'Synthesizers', 'Drums', 'Home Recording', 'Ukulele', 'DJ Gear', 'Pianos', 'Vinyl Records'],
    items: ['Acoustic Guitar', 'Electric Guitar', 'Analog Synthesizer', 'Digital Piano', 'Drum Kit', 'Audio Interface', 'Studio Monitors', 'Effects Pedal', 'Turntable'],
    priceRange: [20, 2500],
  },
  {
    slug: 'collectibles-art',
    name: 'Collectibles & Art',
    topics: ['Vintage Posters', 'Coins', 'Stamps', 'Trading Cards', 'Art Prints', 'Ceramics', 'Sculpture', 'Antiques'],
    items: ['Framed Art Print', 'Limited Edition Poster', 'Silver Coin Set', 'Stamp Album', 'Hand-thrown Vase', 'Oil Painting', 'Antique Mantel Clock', 'Graded Trading Card'],
    priceRange: [10, 5000],
  },
  {
    slug: 'furniture',
    name: 'Furniture',
    topics: ['Mid-Century Modern', 'Office Chairs', 'Sofas', 'Storage', 'Outdoor Furniture', 'Standing Desks', 'Scandinavian Design', 'Upcycling'],
    items: ['Mid-Century Sideboard', 'Ergonomic Office Chair', '3-Seat Sofa', 'Standing Desk', 'Oak Dining Table', 'Bookshelf', 'Patio Set', 'Bedside Table', 'Velvet Armchair'],
    priceRange: [20, 2500],
  },
  {
    slug: 'video-games',
    name: 'Video Games',
    topics: ['Retro Consoles', 'PC Gaming', 'Handheld Gaming', 'RPGs', 'Racing Sims', 'Collector Editions', 'Virtual Reality', 'Esports'],
    items: ['Retro Console Bundle', 'Handheld Console', 'Gaming Headset', 'Racing Wheel', 'VR Headset', "Collector's Edition Game", 'Wireless Controller', 'Gaming Chair'],
    priceRange: [10, 900],
  },
  {
    slug: 'cameras-photo',
    name: 'Cameras & Photo',
    topics: ['Film Photography', 'Mirrorless Cameras', 'Lenses', 'Darkroom', 'Studio Lighting', 'Tripods', 'Instant Cameras', 'Street Photography'],
    items: ['35mm Film Camera', 'Mirrorless Camera Body', '50mm Prime Lens', 'Carbon Fiber Tripod', 'Instant Camera', 'Camera Sling Bag', 'Studio Light Kit', 'Telephoto Zoom Lens'],
    priceRange: [15, 3000],
  },
  {
    slug: 'bikes',
    name: 'Bikes & Cycling',
    topics: ['Road Cycling', 'Mountain Biking', 'Bikepacking', 'E-bikes', 'Bike Commuting', 'Bike Repair', 'Gravel Riding', 'BMX'],
    items: ['Road Bike 56cm', 'Hardtail Mountain Bike', 'Folding E-bike', 'Bike Helmet', 'Clipless Pedals', 'Frame Bag', 'Indoor Bike Trainer', 'Cycling Jersey'],
    priceRange: [10, 4000],
  },
  {
    slug: 'health-beauty',
    name: 'Health & Beauty',
    topics: ['Skincare', 'Fragrance', 'Haircare', 'Makeup', 'Wellness', 'Grooming', 'Aromatherapy', 'Home Fitness'],
    items: ['Electric Toothbrush', 'Ionic Hair Dryer', 'Skincare Gift Set', 'Eau de Parfum 50ml', 'Beard Trimmer', 'Massage Gun', 'Essential Oil Diffuser', 'Adjustable Dumbbells'],
    priceRange: [5, 400],
  },
  {
    slug: 'baby-kids',
    name: 'Baby & Kids',
    topics: ['Strollers', 'Nursery', 'Kids Clothing', 'Baby Gear', 'Outdoor Play', 'Car Seats', 'Early Learning', 'Kids Furniture'],
    items: ['Convertible Stroller', 'Crib with Mattress', 'Baby Carrier', 'High Chair', 'Kids Balance Bike', 'Play Kitchen', 'Toddler Rain Boots', 'Baby Monitor'],
    priceRange: [5, 700],
  },
  {
    slug: 'pet-supplies',
    name: 'Pet Supplies',
    topics: ['Dog Gear', 'Cat Furniture', 'Aquariums', 'Bird Keeping', 'Pet Grooming', 'Reptile Keeping', 'Dog Training', 'Equestrian'],
    items: ['Dog Crate', 'Cat Tree', '20-Gallon Aquarium', 'Orthopedic Dog Bed', 'Bird Cage', 'Pet Grooming Kit', 'Glass Terrarium', 'No-Pull Dog Harness'],
    priceRange: [5, 400],
  },
  {
    slug: 'jewelry-watches',
    name: 'Jewelry & Watches',
    topics: ['Mechanical Watches', 'Vintage Jewelry', 'Handmade Jewelry', 'Rings', 'Dive Watches', 'Pearls', 'Silversmithing', 'Watch Straps'],
    items: ['Automatic Dive Watch', 'Sterling Silver Ring', 'Gold Hoop Earrings', 'Pearl Necklace', 'Chronograph Watch', 'Charm Bracelet', 'Watch Winder', 'Vintage Brooch'],
    priceRange: [15, 5000],
  },
  {
    slug: 'tools-diy',
    name: 'Tools & DIY',
    topics: ['Woodworking', 'Power Tools', 'Metalworking', '3D Printing', 'Electronics DIY', 'Home Repair', 'Hand Tools', 'Welding'],
    items: ['Cordless Drill Kit', 'Table Saw', 'Hand Plane', '3D Printer', 'Soldering Station', 'Rolling Tool Chest', 'Router Table', 'Auto-Darkening Welding Helmet'],
    priceRange: [10, 1500],
  },
  {
    slug: 'arts-crafts',
    name: 'Arts & Crafts',
    topics: ['Knitting', 'Sewing', 'Watercolor', 'Calligraphy', 'Pottery', 'Embroidery', 'Scrapbooking', 'Leathercraft'],
    items: ['Sewing Machine', 'Merino Yarn Bundle', 'Watercolor Set', 'Pottery Wheel', 'Embroidery Hoop Kit', 'Calligraphy Pen Set', 'Studio Easel', 'Leather Tool Kit'],
    priceRange: [5, 900],
  },
  {
    slug: 'automotive',
    name: 'Automotive',
    topics: ['Car Care', 'Motorcycle Gear', 'Car Audio', 'Off-roading', 'Classic Cars', 'EV Accessories', 'Detailing', 'Roof Racks'],
    items: ['Roof Cargo Box', 'Motorcycle Helmet', 'Dash Cam', 'All-Weather Floor Mats', 'Jump Starter', 'Alloy Wheel Set', 'Car Cover', 'Portable EV Charger'],
    priceRange: [15, 2000],
  },
  {
    slug: 'office-stationery',
    name: 'Office & Stationery',
    topics: ['Fountain Pens', 'Stationery', 'Planners', 'Desk Setups', 'Notebooks', 'Printing', 'Bullet Journaling', 'Ink Collecting'],
    items: ['Fountain Pen', 'Leather Planner', 'Desk Organizer', 'Laser Printer', 'Monitor Arm', 'Dot-Grid Notebook Set', 'Label Maker', 'Glass Whiteboard'],
    priceRange: [3, 600],
  },
];
